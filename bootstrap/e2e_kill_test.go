package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fechatter/fechatter/adapters/http/contract"
	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/ports/porttest"
)

// childServeEnv makes this test binary run `fechatter serve` instead of
// the tests: how TestSIGKILLUnderLoad gets a server it can kill -9.
const (
	childServeEnv = "FECHATTER_TEST_CHILD_SERVE"
	childAddrEnv  = "FECHATTER_TEST_CHILD_ADDR"
)

func TestMain(m *testing.M) {
	if os.Getenv(childServeEnv) == "1" {
		os.Exit(Main([]string{"serve", "--profile", "test", "--addr", os.Getenv(childAddrEnv)}))
	}
	// Every test's servers, consumers and clients are gone when the tests
	// are: no goroutine they started is left running. Three library
	// goroutines are not ours to stop:
	goleak.VerifyTestMain(m,
		// bleve's package init starts a process-wide analysis queue whose
		// workers never end (bleve.Config);
		goleak.IgnoreTopFunction("github.com/blevesearch/bleve_index_api.AnalysisWorker"),
		// fasthttp keeps the Date header in one process-wide goroutine,
		// started with the first server and never stopped;
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		// a stopped fasthttp server's worker-pool cleaner sleeps out its
		// idle duration (10 s) before it sees the stop and returns.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"))
}

// childServer is this test binary serving in a process of its own.
type childServer struct {
	t    *testing.T
	addr string
	env  []string
	cmd  *exec.Cmd
	log  bytes.Buffer
}

func (c *childServer) start() {
	c.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		c.t.Fatal(err)
	}
	c.log.Reset()
	c.cmd = exec.Command(exe, "-test.run=^$")
	c.cmd.Env = append(append(os.Environ(), childServeEnv+"=1", childAddrEnv+"="+c.addr), c.env...)
	c.cmd.Stdout, c.cmd.Stderr = &c.log, &c.log
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get("http://" + c.addr + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			c.kill()
			c.t.Fatalf("child server not ready within 90s: %v\n%s", err, c.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *childServer) kill() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		_ = c.cmd.Wait()
		c.cmd = nil
	}
}

// TestSIGKILLUnderLoad kills the server (SIGKILL) while senders keep it
// busy, restarts it on the same database and data directory, and has the
// senders resend what was never answered, with the same idempotency keys.
// Every acknowledged message is stored exactly once with the id and seq it
// was acknowledged with, each chat's seqs run 1..N without a gap, every
// stored message was acknowledged to its sender, and the outbox drains (so
// every stored message reaches the bus).
func TestSIGKILLUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	t.Parallel()
	dsn := pgtest.DSN(t)
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	child := &childServer{t: t, addr: addr, env: []string{
		"DATABASE_URL=" + dsn, "FECHATTER_DATA_DIR=" + t.TempDir(),
		"FECHATTER_LIMITS_SEND_RATE_PER_SECOND=100000", "FECHATTER_LIMITS_SEND_RATE_BURST=100000",
		"FECHATTER_LOG_LEVEL=error"}}
	child.start()
	t.Cleanup(child.kill)
	s := server{base: "http://" + addr, hc: contract.Default(t).Client(t)}
	alice, bob := s.pair(t)
	var chats [2]struct{ ID int64 }
	for i := range chats {
		s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken,
			map[string]any{"type": "group", "name": fmt.Sprintf("kill-%d", i), "member_ids": []int64{bob.User.ID}}, &chats[i])
	}

	type sendKey struct {
		chat int64
		key  string
	}
	type acked struct{ id, seq int64 }
	var (
		mu       sync.Mutex
		ack      = map[sendKey]acked{}
		unacked  = map[sendKey]string{} // key -> token
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		httpc    = &http.Client{Timeout: 10 * time.Second}
		ackCount = func() int { mu.Lock(); defer mu.Unlock(); return len(ack) }
	)
	post := func(token string, k sendKey) (int, acked, error) {
		body, _ := json.Marshal(map[string]any{"content": "content of " + k.key, "idempotency_key": k.key})
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/chats/%d/messages", s.base, k.chat), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpc.Do(req)
		if err != nil {
			return 0, acked{}, err
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m struct{ ID, Seq int64 }
		_ = json.Unmarshal(raw, &m)
		return resp.StatusCode, acked{m.ID, m.Seq}, nil
	}
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := []string{alice.AccessToken, bob.AccessToken}[g%2]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := sendKey{chats[i%2].ID, fmt.Sprintf("g%d-%d", g, i)}
				status, m, err := post(token, k)
				mu.Lock()
				if err == nil && (status == 201 || status == 200) {
					ack[k] = m
				} else {
					unacked[k] = token
				}
				mu.Unlock()
				if err != nil || status >= 500 {
					time.Sleep(20 * time.Millisecond) // the server is down: retry pace, not a wait for a condition
				}
			}
		}()
	}
	waitFor(t, 60*time.Second, "150 acknowledged sends", func() bool { return ackCount() >= 150 })
	child.kill()
	killedAt := ackCount()
	child.start()
	waitFor(t, 60*time.Second, "150 more acknowledged sends after the restart", func() bool { return ackCount() >= killedAt+150 })
	close(stop)
	wg.Wait()

	// What was never answered is sent again with the same key: it was
	// either stored before the kill (replayed) or not (stored now).
	for k, token := range unacked {
		if _, ok := ack[k]; ok {
			continue
		}
		status, m, err := post(token, k)
		if err != nil || (status != 200 && status != 201) {
			t.Fatalf("resend %v: %d %v", k, status, err)
		}
		ack[k] = m
	}

	db, err := postgres.Open(context.Background(), dsn, postgres.WithMaxOpenConns(1))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := 0
	for _, c := range chats {
		var rows []struct {
			ID             int64
			Seq            int64
			IdempotencyKey string
		}
		if err := db.NewRaw(`SELECT id, seq, idempotency_key FROM messages WHERE chat_id = ? ORDER BY seq`, c.ID).
			Scan(context.Background(), &rows); err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if r.Seq != int64(i+1) {
				t.Fatalf("chat %d: seq %d at place %d: a gap", c.ID, r.Seq, i+1)
			}
			a, ok := ack[sendKey{c.ID, r.IdempotencyKey}]
			if !ok {
				t.Fatalf("chat %d seq %d (key %s) was stored but never acknowledged to its sender", c.ID, r.Seq, r.IdempotencyKey)
			}
			if a.id != r.ID || a.seq != r.Seq {
				t.Fatalf("key %s acknowledged as id %d seq %d, stored as id %d seq %d", r.IdempotencyKey, a.id, a.seq, r.ID, r.Seq)
			}
		}
		stored += len(rows)
	}
	if stored != len(ack) {
		t.Fatalf("%d messages stored, %d acknowledged: an acknowledged message is missing", stored, len(ack))
	}
	waitFor(t, 30*time.Second, "the outbox to drain after the restart", func() bool {
		var n int
		return db.NewRaw(`SELECT count(*) FROM outbox`).Scan(context.Background(), &n) == nil && n == 0
	})
	t.Logf("%d messages acknowledged (%d before the kill), %d sends unanswered and resent", len(ack), killedAt, len(unacked))
}

// waitFor polls cond until it holds or d has passed.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	porttest.Eventually(t, d, what, cond)
}
