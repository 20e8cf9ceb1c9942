package fault

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/meili/meilitest"
)

// The processes a scenario runs and breaks: nats-server, a private
// Postgres cluster, and the server binary, each on a free loopback port.

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitUntil(limit time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func portOpen(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// natsServer is a nats-server with JetStream on its own port and store
// directory, so that the suite may stop and freeze it.
type natsServer struct {
	port int
	dir  string
	cmd  *exec.Cmd
	log  *os.File
}

func startNATS(t *testing.T) *natsServer {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server"} {
			if _, err2 := os.Stat(p); err2 == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		t.Skipf("nats-server not installed (Debian: nats-server): %v", err)
	}
	dir := t.TempDir()
	log, err := os.Create(filepath.Join(dir, "nats.log"))
	if err != nil {
		t.Fatal(err)
	}
	n := &natsServer{port: freePort(t), dir: dir, log: log}
	n.cmd = exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-js", "-sd", filepath.Join(dir, "store"))
	t.Cleanup(func() { n.stop(t); log.Close() })
	n.start(t)
	return n
}

func (n *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

func (n *natsServer) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(n.cmd.Path, n.cmd.Args[1:]...)
	cmd.Stdout, cmd.Stderr = n.log, n.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.cmd = cmd
	if !waitUntil(20*time.Second, func() bool { return portOpen(n.port) }) {
		t.Fatalf("nats-server not listening on %d", n.port)
	}
}

func (n *natsServer) stop(t *testing.T) {
	if n.cmd.Process == nil || n.cmd.ProcessState != nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGCONT) // in case it is frozen
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- n.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
	}
}

func (n *natsServer) signal(sig syscall.Signal) error { return n.cmd.Process.Signal(sig) }

// postgres is a private cluster made by initdb in a temporary directory on
// its own port: restarting it breaks no one else's tests.
type postgres struct {
	bin, data, sock string
	port            int
	asPostgres      bool // root runs the cluster as the postgres user
}

func pgBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("initdb not found (Debian: postgresql)")
}

func startPostgres(t *testing.T) *postgres {
	t.Helper()
	bin, err := pgBinDir()
	if err != nil {
		t.Skip(err)
	}
	dir, err := os.MkdirTemp("", "fechatter-fault-pg")
	if err != nil {
		t.Fatal(err)
	}
	p := &postgres{bin: bin, data: filepath.Join(dir, "data"), sock: dir, port: freePort(t)}
	if os.Geteuid() == 0 {
		// initdb refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root without a postgres user for initdb: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.asPostgres = true
	}
	t.Cleanup(func() {
		_ = p.ctl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	if out, err := p.run("initdb", "-D", p.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if err := p.ctl("start"); err != nil {
		t.Fatalf("pg_ctl start: %v", err)
	}
	return p
}

func (p *postgres) run(tool string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(p.bin, tool), args...)
	if p.asPostgres {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(p.bin, tool)}, args...)...)
	}
	return cmd.CombinedOutput()
}

// ctl runs pg_ctl start|stop|restart and waits for it.
func (p *postgres) ctl(action string, extra ...string) error {
	args := []string{action, "-D", p.data, "-w", "-t", "60", "-l", filepath.Join(p.sock, "postgres.log")}
	if action != "stop" {
		args = append(args, "-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off", p.port, p.sock))
	}
	if action != "start" && len(extra) == 0 {
		extra = []string{"-m", "fast"}
	}
	out, err := p.run("pg_ctl", append(args, extra...)...)
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

func (p *postgres) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// server is the fechatter binary on a fixed address, with a data
// directory that outlives its restarts (JWT secret, Bleve index).
type server struct {
	bin, addr string
	env       []string
	cmd       *exec.Cmd
	log       *os.File
	exited    chan struct{}
}

func newServer(t *testing.T, bin string, env []string) *server {
	t.Helper()
	dir := t.TempDir()
	log, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	s := &server{bin: bin, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), log: log,
		env: append(env, "FECHATTER_DATA_DIR="+filepath.Join(dir, "data"))}
	t.Cleanup(func() {
		s.signal(syscall.SIGTERM)
		s.wait(30 * time.Second)
		log.Close()
	})
	return s
}

func (s *server) base() string { return "http://" + s.addr }

// start runs the server and waits until /health/ready answers 200.
func (s *server) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(s.bin, "serve", "--profile", "test", "--addr", s.addr)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.exited) }()
	if !waitUntil(90*time.Second, s.ready) {
		t.Fatalf("server not ready within 90s (log %s)", s.log.Name())
	}
}

func (s *server) ready() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(s.base() + "/health/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (s *server) signal(sig syscall.Signal) {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

// wait waits for the process to exit and returns its exit code (-1 when
// it did not exit within limit, or was killed by a signal).
func (s *server) wait(limit time.Duration) int {
	if s.cmd == nil {
		return 0
	}
	select {
	case <-s.exited:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(limit):
		return -1
	}
}

// buildServer builds the server binary of this module once per run.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fechatter")
	// The release's flags (deploy/release.sh): make test compiles the
	// server once for this, the deploy checks and the release check.
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// searchBackend is Meilisearch, faked in this process by
// adapters/meili/meilitest (Meilisearch cannot be installed here), on a
// fixed port: search-down stops it and starts it again with its index
// kept, as a Meilisearch restart or a network cut would.
type searchBackend struct {
	fake *meilitest.Fake
	addr string
	key  string

	mu  sync.Mutex
	srv *http.Server
}

func startSearch(t *testing.T) *searchBackend {
	t.Helper()
	b := &searchBackend{key: "fault-suite-meili-key", addr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	b.fake = meilitest.NewHandler(b.key)
	b.start(t)
	t.Cleanup(b.stop)
	return b
}

func (b *searchBackend) url() string { return "http://" + b.addr }

func (b *searchBackend) start(t *testing.T) {
	t.Helper()
	var ln net.Listener
	// Rebinding the port of a server just closed can race its close.
	if !waitUntil(10*time.Second, func() bool {
		var err error
		ln, err = net.Listen("tcp", b.addr)
		return err == nil
	}) {
		t.Fatalf("search backend: cannot listen on %s again", b.addr)
	}
	srv := &http.Server{Handler: b.fake, ReadHeaderTimeout: 5 * time.Second}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// stop closes the listener and every connection: requests fail at once
// (connection refused), as with a backend that is down.
func (b *searchBackend) stop() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}
