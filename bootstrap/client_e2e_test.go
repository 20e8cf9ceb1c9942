package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/http/contract"
	"github.com/fechatter/fechatter/client"
	"github.com/fechatter/fechatter/client/bench"
	"github.com/fechatter/fechatter/ports/porttest"
)

// nextFrame reads the next frame of type typ from a connection without
// OnFrame, skipping others.
func nextFrame(t *testing.T, c *client.Conn, typ string) client.Frame {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case f, ok := <-c.Frames():
			if !ok {
				t.Fatalf("connection ended waiting for %s: %v", typ, c.Err())
			}
			if f.Type == typ {
				return f
			}
		case <-timeout:
			t.Fatalf("no %s frame within 15s", typ)
		}
	}
}

// TestClientAgainstARealServer drives the Go client through a whole
// server: sign-up with an invite, chats, sends over REST and WebSocket
// with idempotency keys, live delivery, history, search, and the typed
// errors (404, 400, 401, and 429 with its retry delay on both transports).
func TestClientAgainstARealServer(t *testing.T) {
	t.Parallel()
	// A tight send limit (3 per 1.5s per user) to meet 429s quickly.
	s := startServer(t, "FECHATTER_LIMITS_SEND_RATE_PER_SECOND=2", "FECHATTER_LIMITS_SEND_RATE_BURST=3")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hc := client.NewHTTPClient(8)
	// Every exchange and frame is checked against openapi.json.
	check := contract.Default(t)
	hc.Transport = check.Transport(t, hc.Transport)
	newClient := func() *client.Client {
		c, err := client.New(s.base, client.WithHTTPClient(hc), client.WithWireHook(check.WireHook(t)))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice, bob, carol := newClient(), newClient(), newClient()
	ws := porttest.Unique("client-")
	a, err := alice.SignUp(ctx, client.SignUpRequest{Email: porttest.Unique("a") + "@x.test", Password: "correct-horse", Fullname: "Alice", Workspace: ws})
	if err != nil || a.User.ID == 0 || a.Workspace.Name != ws || a.AccessToken == "" {
		t.Fatalf("sign up: %+v %v", a, err)
	}
	inv, err := alice.CreateInvite(ctx, client.InviteOptions{MaxUses: 2})
	if err != nil || inv.Code == "" || inv.MaxUses != 2 {
		t.Fatalf("invite: %+v %v", inv, err)
	}
	bobEmail := porttest.Unique("b") + "@x.test"
	b, err := bob.SignUp(ctx, client.SignUpRequest{Email: bobEmail, Password: "correct-horse", Fullname: "Bob", Workspace: ws, InviteCode: inv.Code})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.SignIn(ctx, bobEmail, "correct-horse"); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	before := bob.Session()
	if after, err := bob.Refresh(ctx); err != nil || after.RefreshToken == before.RefreshToken || bob.Session().AccessToken != after.AccessToken {
		t.Fatalf("refresh: %v (rotated: %v)", err, after.RefreshToken != before.RefreshToken)
	}
	c, err := carol.SignUp(ctx, client.SignUpRequest{Email: porttest.Unique("c") + "@x.test", Password: "correct-horse", Fullname: "Carol", Workspace: ws, InviteCode: inv.Code})
	if err != nil {
		t.Fatal(err)
	}

	chat, err := alice.CreateChat(ctx, client.NewChat{Type: client.Group, Name: "launch", MemberIDs: []int64{b.User.ID}})
	if err != nil || chat.ID == 0 || chat.MemberCount != 2 {
		t.Fatalf("create chat: %+v %v", chat, err)
	}
	members, err := alice.AddMembers(ctx, chat.ID, c.User.ID)
	if err != nil || len(members) != 3 {
		t.Fatalf("add members: %+v %v", members, err)
	}

	bobWS, err := bob.Dial(ctx, client.DialOptions{Platform: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer bobWS.Close()
	if h := bobWS.Hello(); h.UserID != b.User.ID || len(h.Chats) != 1 || h.Chats[0].ChatID != chat.ID {
		t.Fatalf("hello %+v", h)
	}

	// REST send with an idempotency key, then its replay.
	m1, replay, err := alice.Send(ctx, chat.ID, client.NewMessage{Content: "hello zebra team", IdempotencyKey: "k-1"})
	if err != nil || replay || m1.Seq != 1 || m1.SenderID != a.User.ID {
		t.Fatalf("send: %+v replay %v %v", m1, replay, err)
	}
	again, replay, err := alice.Send(ctx, chat.ID, client.NewMessage{Content: "hello zebra team", IdempotencyKey: "k-1"})
	if err != nil || !replay || again.ID != m1.ID {
		t.Fatalf("replay: %+v replay %v %v", again, replay, err)
	}
	var got client.Message
	if err := nextFrame(t, bobWS, client.FrameMessageCreated).Decode(&got); err != nil || got.ID != m1.ID || got.Content != "hello zebra team" {
		t.Fatalf("bob got %+v %v", got, err)
	}

	// WebSocket send: the ack carries the message; bob sees it live.
	aliceWS, err := alice.Dial(ctx, client.DialOptions{Platform: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer aliceWS.Close()
	m2, replay, err := aliceWS.Send(ctx, chat.ID, client.NewMessage{Content: "second", IdempotencyKey: "k-2"})
	if err != nil || replay || m2.Seq != 2 {
		t.Fatalf("ws send: %+v %v %v", m2, replay, err)
	}
	if again, replay, err := aliceWS.Send(ctx, chat.ID, client.NewMessage{Content: "second", IdempotencyKey: "k-2"}); err != nil || !replay || again.ID != m2.ID {
		t.Fatalf("ws replay: %+v %v %v", again, replay, err)
	}
	if err := nextFrame(t, bobWS, client.FrameMessageCreated).Decode(&got); err != nil || got.Seq != 2 {
		t.Fatalf("bob got %+v %v", got, err)
	}
	if err := bobWS.Read(chat.ID, 2); err != nil {
		t.Fatalf("read frame: %v", err)
	}

	page, err := bob.ListMessages(ctx, chat.ID, client.Page{Forward: true, Limit: 10})
	if err != nil || len(page.Messages) != 2 || page.Messages[0].Seq != 1 || page.HasMore {
		t.Fatalf("history: %+v %v", page, err)
	}
	if page, err = bob.ListMessages(ctx, chat.ID, client.Page{Seq: 2, Limit: 10}); err != nil || len(page.Messages) != 1 || page.Messages[0].Seq != 1 {
		t.Fatalf("history before 2: %+v %v", page, err)
	}

	// Search, once the index has caught up.
	var res client.SearchResults
	if !porttest.Within(20*time.Second, func() bool {
		if res, err = carol.Search(ctx, client.SearchQuery{Q: "zebra", ChatID: chat.ID}); err != nil {
			t.Fatal(err)
		}
		return len(res.Hits) == 1 && res.Hits[0].Message.ID == m1.ID
	}) {
		t.Fatalf("search never found the message: %+v", res)
	}

	// Typed errors.
	var apiErr *client.Error
	if _, err := bob.GetChat(ctx, chat.ID+1_000_000); !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Code != client.CodeNotFound || apiErr.Message == "" {
		t.Fatalf("missing chat: %v", err)
	}
	if _, err := bob.CreateChat(ctx, client.NewChat{Type: "party"}); !client.IsCode(err, client.CodeInvalidArgument) {
		t.Fatalf("bad chat type: %v", err)
	}
	stranger := newClient().WithSession(client.Session{AccessToken: "not-a-token"})
	if _, err := stranger.Me(ctx); !client.IsCode(err, client.CodeUnauthenticated) {
		t.Fatalf("bad token over REST: %v", err)
	}
	if _, err := stranger.Dial(ctx, client.DialOptions{}); !errors.As(err, &apiErr) || apiErr.Status != 401 {
		t.Fatalf("bad token over WebSocket: %v", err)
	}

	// Rate limits: carol sends until the limit answers, over REST then
	// over her WebSocket.
	var limited *client.Error
	for i := range 10 {
		_, _, err := carol.Send(ctx, chat.ID, client.NewMessage{Content: "flood " + strconv.Itoa(i)})
		if errors.As(err, &limited) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if limited == nil || limited.Status != http.StatusTooManyRequests || limited.Code != client.CodeRateLimited || limited.RetryAfter <= 0 {
		t.Fatalf("REST flood: %+v", limited)
	}
	carolWS, err := carol.Dial(ctx, client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer carolWS.Close()
	_, _, err = carolWS.Send(ctx, chat.ID, client.NewMessage{Content: "one more"})
	if !errors.As(err, &limited) || limited.Code != client.CodeRateLimited || limited.Status != 429 || limited.RetryAfter <= 0 {
		t.Fatalf("WebSocket flood: %v", err)
	}
	// The connection survives its error frame.
	if err := carolWS.Ping(); err != nil {
		t.Fatal(err)
	}
	nextFrame(t, carolWS, client.FramePong)
}

// TestBenchCommandSmoke runs `fechatter bench` for two seconds each of
// fanout and seed against a whole server (in this process, so --pid is
// ours): every acknowledged message reaches every member's connection.
func TestBenchCommandSmoke(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for _, args := range [][]string{
		{"--workload", "fanout", "--users", "6", "--chat-size", "3", "--rate", "15"},
		{"--workload", "seed", "--users", "7", "--chat-size", "3", "--rate", "10"},
	} {
		var stdout, stderr bytes.Buffer
		args = append([]string{"bench", "--url", s.base, "--duration", "2s", "--pid", strconv.Itoa(os.Getpid()), "--json"}, args...)
		if code := run(context.Background(), args, &stdout, &stderr, nil); code != exitOK {
			t.Fatalf("%v: exit %d: %s\n%s", args, code, stderr.String(), stdout.String())
		}
		var rep bench.Report
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("report: %v\n%s", err, stdout.String())
		}
		d := rep.Deliveries
		if rep.Messages.Sent != 30 && rep.Messages.Sent != 20 || rep.Messages.Sent != rep.Messages.Scheduled || rep.Messages.Skipped != 0 {
			t.Fatalf("%v: sent %d of %d scheduled", args, rep.Messages.Sent, rep.Messages.Scheduled)
		}
		if d.Expected < rep.Messages.Sent*2 || d.Lost != 0 || d.Received != d.Expected || d.Duplicates != 0 || d.OutOfOrder != 0 {
			t.Fatalf("%v: deliveries %+v", args, d)
		}
		if len(rep.Errors) != 0 || rep.SendLatency.Count != rep.Messages.Sent || rep.DeliveryLatency.Count != d.Received {
			t.Fatalf("%v: errors %v, latency samples %d/%d", args, rep.Errors, rep.SendLatency.Count, rep.DeliveryLatency.Count)
		}
		if rep.Server == nil || rep.Server.RSSAfterBytes <= 0 || rep.Machine.CPUs < 1 {
			t.Fatalf("%v: server %+v machine %+v", args, rep.Server, rep.Machine)
		}
		if rep.Workload == bench.Seed && (rep.Frames["sent typing"] != rep.Messages.Sent || rep.Frames["sent read"] == 0) {
			t.Fatalf("seed sent frames %v", rep.Frames)
		}
		if !strings.Contains(stderr.String(), rep.Workload+" run") {
			t.Fatalf("no progress line on stderr: %q", stderr.String())
		}
	}
}

// TestBenchConnectionsSmoke runs `fechatter bench --workload connections`:
// every user connected, the hold starts only once the presence frames of
// the burst stopped coming (2 s without a frame), and the server's CPU is
// reported for both.
func TestBenchConnectionsSmoke(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--url", s.base, "--workload", "connections", "--users", "12", "--chat-size", "4",
		"--duration", "1s", "--pid", strconv.Itoa(os.Getpid()), "--json"}
	if code := run(context.Background(), args, &stdout, &stderr, nil); code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr.String(), stdout.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	c := rep.Connections
	if c.Opened != 12 || c.Failed != 0 || c.ConnectSeconds <= 0 {
		t.Fatalf("connections %+v; want 12 opened, none failed", c)
	}
	if c.SettleSeconds < 2 || c.SettleCPUCores <= 0 {
		t.Fatalf("settle %.2fs at %.3f cores; want at least the 2 s quiet window, measured", c.SettleSeconds, c.SettleCPUCores)
	}
	if rep.Frames["presence.updated"] == 0 {
		t.Fatalf("frames %v; want the partners' presence", rep.Frames)
	}
}

// TestBenchSearchSmoke runs `fechatter bench --workload search` with
// writes flowing during the queries: the seeded messages are all
// searchable, every query is answered, and the flowing messages are
// acknowledged and found by the index-lag sampler. Access tokens live 3 s
// and the run lasts longer: the generator refreshes its users' sessions
// (a million-message seeding outlived the default 15 minutes and every
// REST call after it failed with 401).
func TestBenchSearchSmoke(t *testing.T) {
	t.Parallel()
	s := startServer(t, "FECHATTER_AUTH_ACCESS_TTL=3s")
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--url", s.base, "--workload", "search", "--users", "4", "--chat-size", "2", "--rate", "40",
		"--messages", "40", "--qps", "5", "--flow-rate", "10", "--duration", "5s", "--json"}
	if code := run(context.Background(), args, &stdout, &stderr, nil); code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr.String(), stdout.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	if rep.Messages.Sent != 40 || len(rep.Errors) != 0 {
		t.Fatalf("seeded %d of 40, errors %v", rep.Messages.Sent, rep.Errors)
	}
	if rep.SearchQuery.Count != 25 {
		t.Fatalf("%d queries answered, want 25 (errors %v)", rep.SearchQuery.Count, rep.Errors)
	}
	f := rep.SearchFlow
	if f == nil || f.Sent != 50 || f.Failed != 0 || f.IndexLag.Count == 0 || f.IndexLagMissed != 0 {
		t.Fatalf("flow during the queries: %+v", f)
	}
	if rep.Flags.FlowRate != 10 {
		t.Fatalf("flags %+v", rep.Flags)
	}
}
