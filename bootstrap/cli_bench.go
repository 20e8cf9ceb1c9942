package bootstrap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/client/bench"
)

// Defaults of `bench --spawn`: the server it starts runs the test profile
// on a database of its own, with the send limit raised so that the
// workload, not the per-user limit, sets the rate.
const (
	benchDatabase   = "postgres://postgres@127.0.0.1:5432/fechatter_bench?sslmode=disable"
	benchSendRate   = "1000"
	benchSendBurst  = "2000"
	spawnReadyLimit = 90 * time.Second
	spawnStopLimit  = 20 * time.Second
)

func (c *cli) benchCommand() *cobra.Command {
	var (
		cfg          bench.Config
		jsonOut      bool
		spawn        bool
		spawnDB      string
		cpuprofile   string
		profilePhase string
		pprofURL     string
		instances    int
		spawnNATS    bool
		seedBulk     bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test a server as real clients and report throughput, loss and latency",
		Long: `bench signs up a fresh workspace of users on the server at --url, creates
chats, opens a WebSocket per user and runs a workload:

  seed         the owner's 200-user day (50 messages each) compressed into
               --duration, with typing, read and presence frames
  fanout       --rate messages/s into chats of --chat-size members
  connections  --users idle WebSockets: server memory per connection (--pid)
  search       --messages seeded, then search queries: index lag and latency
               (--seed-bulk: seeded straight into the spawned server's
               database, as sends store them, then indexed by the server)

Sends are paced by an open-loop scheduler: latency counts from the
scheduled time. The server's default send limit is 20 messages/s per user
(burst 40): spread the rate over enough --users, or start the server with
FECHATTER_LIMITS_SEND_RATE_PER_SECOND and FECHATTER_LIMITS_SEND_RATE_BURST
raised. 429s are counted as errors.

--spawn starts the server itself (this binary, test profile, database
fechatter_bench dropped and recreated, send limit raised, listening on
--url's address), measures it and stops it.

--retry makes the users recover from faults as a client must (resends
with the same idempotency key, reconnects to the next instance, catch-up
with after_seq, sign-in again); --verify reads every chat back at the end
and reports acknowledged messages missing, duplicated or out of order and
seq gaps.

Several instances: --url takes a comma-separated list; users are spread
over the instances round-robin (REST and WebSocket), and the report splits
delivery latency by same-instance and cross-instance pairs. With --spawn,
--instances N starts N servers on one database and on one nats-server the
bench starts itself (--spawn-nats does that for one instance too, for a
fair comparison); --url then lists N addresses, or one, the others taking
the next ports.`,
		Example: `  fechatter bench --spawn --url http://127.0.0.1:18089 --workload fanout --rate 200 --duration 20s
  fechatter bench --url http://127.0.0.1:8080 --workload connections --users 5000 --pid $(pgrep -n fechatter)
  fechatter bench --spawn --instances 2 --url http://127.0.0.1:18089 --workload fanout --rate 100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if cpuprofile != "" && !spawn && pprofURL == "" {
				return usageError{errors.New("--cpuprofile needs --spawn or --pprof-url")}
			}
			if err := cfg.WithDefaults().Validate(); err != nil {
				return usageError{err}
			}
			if (instances != 1 || spawnNATS) && !spawn {
				return usageError{errors.New("--instances and --spawn-nats need --spawn (without it, list the running instances in --url)")}
			}
			if seedBulk && !spawn {
				return usageError{errors.New("--seed-bulk needs --spawn: it writes the messages straight into the spawned server's database (--spawn-database)")}
			}
			if seedBulk && cfg.Workload != bench.Search {
				return usageError{fmt.Errorf("--seed-bulk is for --workload %s", bench.Search)}
			}
			if instances < 1 || instances > 16 {
				return usageError{fmt.Errorf("--instances %d: 1..16", instances)}
			}
			if spawn {
				urls, err := spawnURLs(cfg.URLs(), instances)
				if err != nil {
					return usageError{err}
				}
				cl, err := c.spawnCluster(ctx, urls, spawnDB, cpuprofile != "", spawnNATS || instances > 1)
				if err != nil {
					return err
				}
				defer cl.stop(c.stderr)
				cfg.URL = strings.Join(urls, ",")
				if len(cl.servers) == 1 {
					cfg.PID = cl.servers[0].pid
				} else {
					for _, s := range cl.servers {
						cfg.PIDs = append(cfg.PIDs, s.pid)
					}
				}
				if name, err := postgres.DatabaseName(spawnDB); err == nil {
					cfg.Database = name // Postgres CPU: this database's backends only
				}
				if p := cl.servers[0].pprof; p != "" {
					pprofURL = p
				}
				if seedBulk {
					seeder, closeSeeder, err := openBenchSeeder(ctx, spawnDB)
					if err != nil {
						return err
					}
					defer closeSeeder()
					cfg.Seeder = seeder
				}
			}
			progress := newBenchProgress(c.stderr)
			var profile *cpuProfile
			if profilePhase == "" {
				profilePhase = "run" // the timed phase
				if cfg.Workload == bench.Connections {
					profilePhase = "hold"
				}
			}
			if cpuprofile != "" {
				profile = &cpuProfile{base: pprofURL, file: cpuprofile, seconds: profileSeconds(cfg.WithDefaults())}
			}
			cfg.Progress = func(p bench.Progress) {
				progress.draw(p)
				if profile != nil && p.Phase == profilePhase {
					profile.start(ctx)
				}
			}
			rep, err := bench.Run(ctx, cfg)
			progress.finish()
			if profile != nil {
				if perr := profile.wait(); perr != nil {
					fmt.Fprintf(c.stderr, "fechatter bench: cpu profile: %v\n", perr)
				} else if profile.started() {
					fmt.Fprintf(c.stderr, "cpu profile of the server written to %s (go tool pprof -top %s)\n", cpuprofile, cpuprofile)
				}
			}
			if rep != nil && spawn {
				if note := postgresSettings(ctx, spawnDB); note != "" {
					rep.Notes = append(rep.Notes, note)
				}
			}
			if rep != nil {
				if werr := writeReport(c.stdout, rep, jsonOut); werr != nil {
					return errors.Join(err, werr)
				}
				if v := rep.Verify; err == nil && v != nil && !v.Clean() {
					return fmt.Errorf("bench --verify: %s", v)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "the server's base URL, or several instances' separated by commas (users spread round-robin)")
	f.StringVar(&cfg.Workload, "workload", bench.Fanout, fmt.Sprintf("one of %v", bench.Workloads()))
	f.IntVar(&cfg.Users, "users", 0, "users to sign up, one WebSocket each (default: seed 200, fanout max(100, 4*rate), connections 1000, search max(20, rate/5))")
	f.IntVar(&cfg.Users, "members", 0, "channel: members of the one channel, one WebSocket each (default 1000; the same as --users)")
	f.IntVar(&cfg.ChatSize, "chat-size", 0, "members per chat (seed: per team) (default 10)")
	f.Float64Var(&cfg.Rate, "rate", 0, "messages per second (default: seed users*50/duration, fanout 100, search 500 while seeding)")
	f.DurationVar(&cfg.Duration, "duration", 0, "length of the timed phase (default 30s; connections 10s; search 20s of queries)")
	f.IntVar(&cfg.Concurrency, "concurrency", 0, "requests in flight at most (default 256)")
	f.IntVar(&cfg.Messages, "messages", 0, "search: messages to seed (default 10000)")
	f.Float64Var(&cfg.QueryRate, "qps", 0, "search: queries per second (default 20)")
	f.Float64Var(&cfg.FlowRate, "flow-rate", 0, "search: messages per second that keep flowing while the queries run, their index lag sampled (default 0)")
	f.StringVar(&cfg.Transport, "transport", bench.TransportWS, "how messages are sent: ws (message.send) or rest (POST)")
	f.DurationVar(&cfg.Drain, "drain", 0, "how long to wait for missing deliveries after the last send (default 10s)")
	f.BoolVar(&cfg.Retry, "retry", false, "recover as a client must through faults: resend failed or unanswered sends with the same idempotency key, redial dropped WebSockets (to the next --url instance when one refuses connections) and catch up with after_seq, sign in again when a token is refused")
	f.BoolVar(&cfg.Verify, "verify", false, "read every chat back at the end: acknowledged messages missing, duplicated or out of order, and seq gaps (exit status 1 if any)")
	f.IntVar(&cfg.PID, "pid", 0, "the server's process id, for its memory (VmRSS) and CPU from /proc")
	f.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	f.BoolVar(&spawn, "spawn", false, "start the server (this binary, test profile) on --url's address, measure it, stop it")
	f.IntVar(&instances, "instances", 1, "with --spawn: server instances to start, on one database and one nats-server started by the bench")
	f.BoolVar(&spawnNATS, "spawn-nats", false, "with --spawn: run the server(s) on a nats-server the bench starts (implied by --instances > 1) instead of the embedded one")
	f.StringVar(&spawnDB, "spawn-database", benchDatabase, "with --spawn: the server's database, dropped and recreated first (its name must contain \"bench\")")
	f.BoolVar(&seedBulk, "seed-bulk", false, "search, with --spawn: seed --messages straight into the spawned server's database in large transactions (the rows and message.created events a send writes; the server indexes them from those events) instead of sending them over REST")
	f.StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the server during the timed phase to this file (needs --spawn or --pprof-url)")
	f.StringVar(&profilePhase, "cpuprofile-phase", "", "with --cpuprofile: the phase to profile, from its start for --duration less 2 s (default: the timed phase, run; hold for connections; connect, say, for the dials)")
	f.StringVar(&pprofURL, "pprof-url", "", "the server's profiling listener, e.g. http://127.0.0.1:6060 (see "+PprofAddrEnv+")")
	return cmd
}

func writeReport(w io.Writer, rep *bench.Report, asJSON bool) error {
	if !asJSON {
		return rep.WriteText(w)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// benchProgress draws one status line on stderr, rewritten with \r.
type benchProgress struct {
	w        io.Writer
	width    int
	lastSent int64
	lastAt   time.Time
}

func newBenchProgress(w io.Writer) *benchProgress { return &benchProgress{w: w} }

func (p *benchProgress) draw(s bench.Progress) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", s.Workload, s.Phase)
	switch s.Phase {
	case "run", "drain", "hold", "index":
		if s.Phase == "index" && s.Total > 0 {
			fmt.Fprintf(&b, " searchable up to message %d/%d", s.Done, s.Total)
		}
		fmt.Fprintf(&b, " %s/%s", s.Elapsed.Round(time.Second), s.Duration)
		if s.Sent+s.Failed > 0 {
			now := time.Now()
			rate := 0.0
			if !p.lastAt.IsZero() {
				rate = float64(s.Sent-p.lastSent) / now.Sub(p.lastAt).Seconds()
			}
			p.lastSent, p.lastAt = s.Sent, now
			fmt.Fprintf(&b, "  sent %d (%.0f/s)  failed %d", s.Sent, rate, s.Failed)
		}
		if s.Expected > 0 {
			fmt.Fprintf(&b, "  delivered %d/%d", s.Received, s.Expected)
		}
		if s.Queries > 0 {
			fmt.Fprintf(&b, "  queries %d", s.Queries)
		}
	default:
		if s.Total > 0 {
			fmt.Fprintf(&b, " %d/%d", s.Done, s.Total)
		}
	}
	if s.Conns > 0 {
		fmt.Fprintf(&b, "  conns %d", s.Conns)
	}
	if s.RSS > 0 {
		fmt.Fprintf(&b, "  server %.0f MiB", float64(s.RSS)/(1<<20))
	}
	line := b.String()
	pad := max(p.width-len(line), 0)
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
}

func (p *benchProgress) finish() {
	if p.width > 0 {
		fmt.Fprintln(p.w)
	}
}

// spawnedServer is a server started by bench --spawn.
type spawnedServer struct {
	cmd   *exec.Cmd
	pid   int
	log   string // its output
	pprof string // its profiling listener, if asked for
	done  chan error
}

// spawnURLs are the addresses of the instances --spawn starts: the n
// listed, or one and the next ports.
func spawnURLs(urls []string, n int) ([]string, error) {
	if len(urls) == n {
		return urls, nil
	}
	if len(urls) != 1 {
		return nil, fmt.Errorf("--spawn --instances %d: --url lists %d addresses; give %d, or one (the others take the next ports)", n, len(urls), n)
	}
	u, err := url.Parse(urls[0])
	if err != nil || u.Port() == "" {
		return nil, fmt.Errorf("--spawn needs --url with host:port, got %q", urls[0])
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port+n-1 > 65535 {
		return nil, fmt.Errorf("--spawn: port of %q", urls[0])
	}
	out := make([]string, n)
	for i := range n {
		v := *u
		v.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(port+i))
		out[i] = v.String()
	}
	return out, nil
}

// spawnedCluster is what bench --spawn started: the servers and, for
// several, the nats-server they share.
type spawnedCluster struct {
	servers []*spawnedServer
	nats    *spawnedNATS
}

// spawnCluster drops the database and starts a server on each address
// (several on one nats-server it starts first).
func (c *cli) spawnCluster(ctx context.Context, urls []string, database string, withPprof, ownNATS bool) (*spawnedCluster, error) {
	name, err := postgres.DatabaseName(database)
	if err != nil {
		return nil, usageError{err}
	}
	if !strings.Contains(name, "bench") {
		return nil, usageError{fmt.Errorf("--spawn-database %q: its name must contain \"bench\" (it is dropped first)", name)}
	}
	if err := dropDatabase(ctx, database); err != nil {
		return nil, err
	}
	cl := &spawnedCluster{}
	extra := map[string]string{}
	if ownNATS {
		if cl.nats, err = startNATSServer(ctx); err != nil {
			return nil, err
		}
		fmt.Fprintf(c.stderr, "spawned nats-server pid %d on %s\n", cl.nats.cmd.Process.Pid, cl.nats.url)
		extra["FECHATTER_NATS_MODE"] = NATSExternal
		extra["NATS_URL"] = cl.nats.url
	}
	if len(urls) > 1 && parseEnviron(c.environ)["FECHATTER_JWT_SECRET"] == "" {
		// One signing secret for the cluster (each test-profile server
		// would otherwise make its own), as a deployment has.
		var b [32]byte
		_, _ = rand.Read(b[:])
		extra["FECHATTER_JWT_SECRET"] = hex.EncodeToString(b[:])
	}
	for i, u := range urls {
		// Only the first instance migrates: the others start once it is ready.
		srv, err := c.spawnServer(ctx, u, database, withPprof && i == 0, extra)
		if err != nil {
			cl.stop(c.stderr)
			return nil, err
		}
		cl.servers = append(cl.servers, srv)
	}
	return cl, nil
}

// stop stops the servers (together: a graceful stop waits for
// connections) and then the nats-server.
func (cl *spawnedCluster) stop(w io.Writer) {
	var wg sync.WaitGroup
	for _, s := range cl.servers {
		wg.Go(func() { s.stop(w) })
	}
	wg.Wait()
	if cl.nats != nil {
		cl.nats.stop()
	}
}

// spawnedNATS is a nats-server with JetStream on a free port and a
// temporary store.
type spawnedNATS struct {
	cmd  *exec.Cmd
	dir  string
	url  string
	done chan error
}

func startNATSServer(ctx context.Context) (*spawnedNATS, error) {
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("spawn: several instances share a nats-server the bench starts, and none is installed (Debian: apt-get install nats-server): %w", err)
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	dir, err := os.MkdirTemp("", "fechatter-bench-nats-*")
	if err != nil {
		return nil, err
	}
	n := &spawnedNATS{dir: dir, url: "nats://" + addr, done: make(chan error, 1)}
	n.cmd = exec.Command(bin, "-a", host, "-p", port, "-js", "-sd", filepath.Join(dir, "store"))
	logf, err := os.Create(filepath.Join(dir, "nats.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("spawn: start %s: %w", bin, err)
	}
	logf.Close()
	go func() { n.done <- n.cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return n, nil
		}
		select {
		case err := <-n.done:
			n.done <- err
			out := tail(filepath.Join(dir, "nats.log"), 2000)
			n.stop()
			return nil, fmt.Errorf("spawn: nats-server exited (%v): %s", err, out)
		case <-ctx.Done():
			n.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, fmt.Errorf("spawn: nats-server not listening on %s within 20s", addr)
		}
	}
}

func (n *spawnedNATS) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(spawnStopLimit):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
	_ = os.RemoveAll(n.dir)
}

// spawnServer starts this binary's serve on rawURL's address, on a
// database dropped already, and waits until it is ready. extra adds to
// the environment it sets.
func (c *cli) spawnServer(ctx context.Context, rawURL, database string, withPprof bool, extra map[string]string) (*spawnedServer, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Port() == "" {
		return nil, usageError{fmt.Errorf("--spawn needs --url with host:port, got %q", rawURL)}
	}
	name, err := postgres.DatabaseName(database)
	if err != nil {
		return nil, usageError{err}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("spawn: find this binary: %w", err)
	}
	env := parseEnviron(c.environ)
	profile := c.profile
	if profile == "" {
		profile = ProfileTest
	}
	set := map[string]string{"FECHATTER_PROFILE": profile, "DATABASE_URL": database}
	maps.Copy(set, extra)
	for k, v := range map[string]string{
		"FECHATTER_LIMITS_SEND_RATE_PER_SECOND": benchSendRate,
		"FECHATTER_LIMITS_SEND_RATE_BURST":      benchSendBurst,
		// Every bench user signs up from 127.0.0.1.
		"FECHATTER_AUTH_SIGNUP_LIMIT_MAX": "10000000",
	} {
		if env[k] == "" {
			set[k] = v
		}
	}
	s := &spawnedServer{done: make(chan error, 1)}
	if withPprof {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		set[PprofAddrEnv] = addr
		s.pprof = "http://" + addr
	}
	environ := make([]string, 0, len(c.environ)+len(set))
	for _, kv := range c.environ {
		if k, _, _ := strings.Cut(kv, "="); set[k] == "" {
			environ = append(environ, kv)
		}
	}
	for k, v := range set {
		environ = append(environ, k+"="+v)
	}
	logf, err := os.CreateTemp("", "fechatter-bench-server-*.log")
	if err != nil {
		return nil, fmt.Errorf("spawn: server log: %w", err)
	}
	s.log = logf.Name()
	s.cmd = exec.Command(exe, "serve", "--addr", u.Host)
	s.cmd.Env = environ
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("spawn: start %s serve: %w", exe, err)
	}
	logf.Close()
	s.pid = s.cmd.Process.Pid
	go func() { s.done <- s.cmd.Wait() }()
	fmt.Fprintf(c.stderr, "spawned server pid %d on %s (profile %s, database %s, log %s)\n", s.pid, u.Host, profile, name, s.log)
	ready := strings.TrimRight(rawURL, "/") + "/health/ready"
	deadline := time.Now().Add(spawnReadyLimit)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get(ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			return nil, fmt.Errorf("spawned server exited before it was ready (%v); its log:\n%s", err, tail(s.log, 4000))
		case <-ctx.Done():
			s.stop(c.stderr)
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop(c.stderr)
			return nil, fmt.Errorf("spawned server not ready within %s; its log:\n%s", spawnReadyLimit, tail(s.log, 4000))
		}
	}
}

// stop sends SIGTERM, waits for a graceful stop (then kills) and removes
// the log unless the server failed.
func (s *spawnedServer) stop(w io.Writer) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-s.done:
	case <-time.After(spawnStopLimit):
		_ = s.cmd.Process.Kill()
		err = fmt.Errorf("killed: no graceful stop within %s", spawnStopLimit)
		<-s.done
	}
	if err != nil {
		fmt.Fprintf(w, "spawned server pid %d stopped with %v; its log is %s\n", s.pid, err, s.log)
		return
	}
	_ = os.Remove(s.log)
}

// dropDatabase drops the benchmark database so that the server starts on
// a fresh one (it creates and migrates it).
func dropDatabase(ctx context.Context, dsn string) error {
	name, err := postgres.DatabaseName(dsn)
	if err != nil {
		return err
	}
	admin, err := postgres.WithDatabase(dsn, "postgres")
	if err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, dbOpenTimeout)
	defer cancel()
	db, err := postgres.Open(octx, admin, postgres.WithMaxOpenConns(1))
	if err != nil {
		return fmt.Errorf("spawn: %w", err)
	}
	defer db.Close()
	if _, err := db.NewRaw("DROP DATABASE IF EXISTS ? WITH (FORCE)", bun.Ident(name)).Exec(ctx); err != nil {
		return fmt.Errorf("spawn: drop database %s: %w", name, err)
	}
	return nil
}

// postgresSettings says how the benchmark's Postgres is set up where that
// changes the figures: whether autovacuum runs (the server must not depend
// on it) and whether commits are durable.
func postgresSettings(ctx context.Context, dsn string) string {
	octx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	db, err := postgres.Open(octx, dsn, postgres.WithMaxOpenConns(1))
	if err != nil {
		return ""
	}
	defer db.Close()
	var av, sc, ver string
	if db.NewRaw("SELECT current_setting('autovacuum'), current_setting('synchronous_commit'), current_setting('server_version')").
		Scan(octx, &av, &sc, &ver) != nil {
		return ""
	}
	return fmt.Sprintf("postgres %s: autovacuum %s, synchronous_commit %s", ver, av, sc)
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tail is the end of a file, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// profileSeconds is the length of the CPU profile: the timed phase less a
// second at each end.
func profileSeconds(cfg bench.Config) int {
	return max(int(cfg.Duration.Seconds())-2, 1)
}

// cpuProfile fetches /debug/pprof/profile once, when the timed phase
// starts.
type cpuProfile struct {
	base    string
	file    string
	seconds int

	once sync.Once
	wg   sync.WaitGroup
	err  error
	ran  bool
}

func (p *cpuProfile) start(ctx context.Context) {
	p.once.Do(func() {
		p.ran = true
		p.wg.Go(func() { p.err = p.fetch(ctx) })
	})
}

func (p *cpuProfile) started() bool { return p.ran }

func (p *cpuProfile) wait() error {
	p.wg.Wait()
	if !p.ran {
		return errors.New("the run ended before its timed phase: no profile")
	}
	return p.err
}

func (p *cpuProfile) fetch(ctx context.Context) error {
	u := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimRight(p.base, "/"), p.seconds)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(p.seconds+30)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s %s", u, resp.Status, b)
	}
	out, err := os.Create(p.file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
