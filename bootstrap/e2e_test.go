package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/adapters/http/contract"
	natsadapter "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

// server is a whole Fechatter process (all modules, as `serve` runs them)
// inside the test, on a fresh database.
type server struct {
	base string
	stop func()
	// hc checks every exchange against openapi.json (contract).
	hc *http.Client
}

// startServer starts a server on a fresh database, or on the one a
// DATABASE_URL of extraEnv names (a second instance of a cluster).
func startServer(t *testing.T, extraEnv ...string) server {
	t.Helper()
	return startServerWith(t, nil, extraEnv...)
}

// startServerWith is startServer with fx options added to the app (to
// populate a module's value, say).
func startServerWith(t *testing.T, opts []fx.Option, extraEnv ...string) server {
	t.Helper()
	env := extraEnv
	if !slices.ContainsFunc(extraEnv, func(kv string) bool { return strings.HasPrefix(kv, "DATABASE_URL=") }) {
		env = append([]string{"DATABASE_URL=" + pgtest.DSN(t)}, extraEnv...)
	}
	cfg := mustLoad(t, LoadOptions{Profile: ProfileTest, Environ: env})
	ctx, cancel := context.WithCancel(context.Background())
	var l *Listener
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, zap.NewNop(), append([]fx.Option{fx.Populate(&l), fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.Hook{OnStart: func(context.Context) error { close(started); return nil }})
		})}, opts...)...)
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("server did not start within 60s")
	}
	// The start hook above ran before http's (registered later), so wait
	// for the listener to be bound.
	porttest.Eventually(t, 10*time.Second, "the listener to be bound", func() bool { return l.Addr() != nil })
	s := server{base: "http://" + l.Addr().String(), hc: contract.Default(t).Client(t)}
	var stopped bool
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve stopped with %v", err)
		}
	}
	t.Cleanup(s.stop)
	return s
}

// call sends a JSON request and decodes the answer into out (if not nil),
// failing unless the status is want.
func (s server) call(t *testing.T, want int, method, path, token string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
}

type session struct {
	User struct {
		ID int64 `json:"id"`
	} `json:"user"`
	Workspace struct {
		Name string `json:"name"`
	} `json:"workspace"`
	AccessToken string `json:"access_token"`
}

// pair signs up Alice, who creates a workspace, and Bob, who joins it with
// her invite.
func (s server) pair(t *testing.T) (alice, bob session) {
	t.Helper()
	ws := porttest.Unique("ws-")
	s.call(t, 201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": porttest.Unique("a") + "@x.test",
		"password": "correct-horse", "fullname": "Alice", "workspace": ws}, &alice)
	var inv struct{ Code string }
	s.call(t, 201, "POST", "/api/v1/workspace/invites", alice.AccessToken, map[string]any{}, &inv)
	s.call(t, 201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": porttest.Unique("b") + "@x.test",
		"password": "correct-horse", "fullname": "Bob", "workspace": ws, "invite_code": inv.Code}, &bob)
	return alice, bob
}

// TestWalkthrough is the README's curl walk-through against a real server
// on Postgres with embedded NATS.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	var alice, bob session
	ws := porttest.Unique("acme-")
	s.call(t, 201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": porttest.Unique("alice") + "@acme.test",
		"password": "correct-horse", "fullname": "Alice", "workspace": ws}, &alice)
	var inv struct{ Code string }
	s.call(t, 201, "POST", "/api/v1/workspace/invites", alice.AccessToken, map[string]any{"max_uses": 5}, &inv)
	s.call(t, 201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": porttest.Unique("bob") + "@acme.test",
		"password": "correct-horse", "fullname": "Bob", "workspace": ws, "invite_code": inv.Code}, &bob)
	var chat struct{ ID int64 }
	s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "group", "name": "launch", "member_ids": []int64{bob.User.ID}}, &chat)
	s.call(t, 201, "POST", fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID), alice.AccessToken, map[string]any{"content": "hello team"}, nil)
	var list struct {
		Chats []struct {
			ID          int64 `json:"id"`
			UnreadCount int64 `json:"unread_count"`
			LastMessage struct {
				Content string `json:"content"`
			} `json:"last_message"`
		} `json:"chats"`
	}
	s.call(t, 200, "GET", "/api/v1/chats", bob.AccessToken, nil, &list)
	if len(list.Chats) != 1 || list.Chats[0].ID != chat.ID || list.Chats[0].UnreadCount != 1 || list.Chats[0].LastMessage.Content != "hello team" {
		t.Fatalf("bob's chats: %+v", list)
	}
	s.call(t, 200, "GET", "/health/ready", "", nil, nil)
	s.call(t, 200, "GET", "/health/live", "", nil, nil)
}

// TestSendsSurviveANATSOutage stops the NATS server under a running
// Fechatter: sends still answer 201, and once NATS is back every event
// reaches the stream exactly once, in order per chat.
func TestSendsSurviveANATSOutage(t *testing.T) {
	t.Parallel()
	storeDir := t.TempDir()
	ns, err := natsadapter.StartEmbedded(natsadapter.EmbeddedConfig{StoreDir: storeDir}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	port := ns.Port()
	defer func() { ns.Shutdown() }()
	stream := "OUTAGE" + strings.ToUpper(porttest.Unique(""))
	prefix := "outage" + porttest.Unique("")
	s := startServer(t, "FECHATTER_NATS_MODE=external", "NATS_URL="+ns.ClientURL(),
		"FECHATTER_NATS_STREAM="+stream, "FECHATTER_NATS_SUBJECT_PREFIX="+prefix)

	var alice session
	s.call(t, 201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": porttest.Unique("a") + "@x.test",
		"password": "correct-horse", "fullname": "A", "workspace": porttest.Unique("ws-")}, &alice)
	var chat struct{ ID int64 }
	s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "public_channel", "name": "news"}, &chat)
	send := func(i int) {
		s.call(t, 201, "POST", fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID), alice.AccessToken, map[string]any{"content": "m" + strconv.Itoa(i)}, nil)
	}
	for i := 1; i <= 5; i++ {
		send(i)
	}
	ns.Shutdown()
	for i := 6; i <= 15; i++ {
		send(i) // NATS is down: still 201, the events wait in the outbox
	}
	ns, err = natsadapter.StartEmbedded(natsadapter.EmbeddedConfig{StoreDir: storeDir, Port: port}, zap.NewNop())
	if err != nil {
		t.Fatalf("restart nats: %v", err)
	}
	for i := 16; i <= 20; i++ {
		send(i)
	}

	// Read the stream until it holds all 20 message.created events.
	nc, err := natsadapter.Connect(ns.ClientURL(), "outage-test", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var seqs []int64
	var ids map[string]bool
	for len(seqs) < 20 {
		str, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatalf("stream %s: %v", stream, err)
		}
		seqs, ids = seqs[:0], map[string]bool{}
		cons, err := str.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{prefix + ".chat.*.message.created"}})
		if err != nil {
			t.Fatal(err)
		}
		batch, err := cons.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			var e ports.Event
			if err := json.Unmarshal(m.Data(), &e); err != nil {
				t.Fatal(err)
			}
			var msg struct{ Seq int64 }
			_ = json.Unmarshal(e.Data, &msg)
			if ids[e.ID] {
				t.Fatalf("event %s stored twice", e.ID)
			}
			ids[e.ID] = true
			seqs = append(seqs, msg.Seq)
		}
		if ctx.Err() != nil {
			t.Fatalf("stream holds %d of 20 message events after 60s: %v", len(seqs), seqs)
		}
		if len(seqs) < 20 {
			time.Sleep(50 * time.Millisecond) // polling the stream, not waiting on hope: the loop ends on the condition or the deadline
		}
	}
	for i, seq := range seqs {
		if seq != int64(i+1) {
			t.Fatalf("stream order %v, want 1..20", seqs)
		}
	}
	if len(seqs) != 20 {
		t.Fatalf("%d events, want exactly 20", len(seqs))
	}
}

// TestSearchFollowsWritesAndMembership sends, edits, deletes and removes a
// member on a real server (Postgres, embedded NATS, Bleve, the indexer) and
// watches what search finds.
func TestSearchFollowsWritesAndMembership(t *testing.T) {
	t.Parallel()
	s := startServer(t, "FECHATTER_SEARCH_BACKEND=bleve")
	alice, bob := s.pair(t)
	var chat struct{ ID int64 }
	s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "group", "name": "plans", "member_ids": []int64{bob.User.ID}}, &chat)
	msgs := fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID)
	s.call(t, 201, "POST", msgs, alice.AccessToken, map[string]any{"content": "hello, the quarterly numbers are in"}, nil)
	s.call(t, 201, "POST", msgs, alice.AccessToken, map[string]any{"content": "a secret plan nobody should find"}, nil)
	s.call(t, 204, "DELETE", msgs+"/2", alice.AccessToken, nil, nil)
	s.call(t, 201, "POST", msgs, alice.AccessToken, map[string]any{"content": "marker three"}, nil)

	type results struct {
		Hits []struct {
			Message struct {
				Seq     int64  `json:"seq"`
				Content string `json:"content"`
			} `json:"message"`
			Highlight string `json:"highlight"`
		} `json:"hits"`
		EstimatedTotal int `json:"estimated_total"`
	}
	search := func(token, q string) results {
		var r results
		s.call(t, 200, "GET", "/api/v1/search/messages?q="+q, token, nil, &r)
		return r
	}
	// waitFor polls search (the index lags by design) until ok or a deadline.
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		porttest.Eventually(t, 20*time.Second, "search to show "+what, ok)
	}
	waitFor("the marker", func() bool { return len(search(bob.AccessToken, "marker").Hits) == 1 })
	// The marker came after the others in the same chat, so they are indexed too.
	if r := search(bob.AccessToken, "quarterly"); len(r.Hits) != 1 || r.Hits[0].Message.Seq != 1 || !strings.Contains(r.Hits[0].Highlight, "<mark>") {
		t.Fatalf("quarterly: %+v", r)
	}
	for _, q := range []string{"hel", "helo", "QUARTERLY"} {
		if r := search(bob.AccessToken, q); len(r.Hits) != 1 {
			t.Errorf("%q finds %d hits, want the hello message", q, len(r.Hits))
		}
	}
	if r := search(bob.AccessToken, "secret"); len(r.Hits) != 0 {
		t.Errorf("a deleted message is found: %+v", r)
	}

	s.call(t, 200, "PATCH", msgs+"/1", alice.AccessToken, map[string]any{"content": "budget review moved to friday"}, nil)
	waitFor("the edit", func() bool { return len(search(bob.AccessToken, "budget").Hits) == 1 })
	if r := search(bob.AccessToken, "quarterly"); len(r.Hits) != 0 {
		t.Errorf("an edited message is found by its old words: %+v", r)
	}

	// Removed from the chat: nothing of it is found any more, at once.
	s.call(t, 204, "DELETE", fmt.Sprintf("/api/v1/chats/%d/members/%d", chat.ID, bob.User.ID), alice.AccessToken, nil, nil)
	if r := search(bob.AccessToken, "budget"); len(r.Hits) != 0 {
		t.Errorf("a removed member still finds the chat's messages: %+v", r)
	}
	if r := search(alice.AccessToken, "budget"); len(r.Hits) != 1 {
		t.Errorf("alice lost her own search: %+v", r)
	}
	for _, q := range []string{"", "%20%20", strings.Repeat("x", 257), "ok&limit=101", "ok&offset=-1", "ok&chat_id=x"} {
		s.call(t, 400, "GET", "/api/v1/search/messages?q="+q, alice.AccessToken, nil, nil)
	}
	s.call(t, 404, "GET", fmt.Sprintf("/api/v1/search/messages?q=budget&chat_id=%d", chat.ID), bob.AccessToken, nil, nil)
}
