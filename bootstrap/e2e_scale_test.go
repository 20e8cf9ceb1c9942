package bootstrap

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/adapters/meili/meilitest"
	natsadapter "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/client/bench"
	"github.com/fechatter/fechatter/ports/porttest"
)

// pairOfInstances starts two servers on one database and one NATS (a
// stream of their own), as a cluster behind a load balancer runs them;
// extraEnv goes to both. It returns them and the stream's name.
func pairOfInstances(t *testing.T, extraEnv ...string) (a, b server, js jetstream.JetStream, stream string) {
	t.Helper()
	ns, err := natsadapter.StartEmbedded(natsadapter.EmbeddedConfig{StoreDir: t.TempDir()}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	stream = "SCALE" + strings.ToUpper(porttest.Unique(""))
	env := append([]string{"DATABASE_URL=" + pgtest.DSN(t), "FECHATTER_NATS_MODE=external", "NATS_URL=" + ns.ClientURL(),
		"FECHATTER_NATS_STREAM=" + stream, "FECHATTER_NATS_SUBJECT_PREFIX=" + strings.ToLower(stream),
		"FECHATTER_JWT_SECRET=" + strings.Repeat("s", 40), "FECHATTER_SEARCH_BATCH_TIMEOUT=100ms"}, extraEnv...)
	a = startServer(t, env...)
	b = startServer(t, env...)
	nc, err := natsadapter.Connect(ns.ClientURL(), "scale-test", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err = jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return a, b, js, stream
}

// indexerConsumers lists the stream's search indexer consumers.
func indexerConsumers(t *testing.T, js jetstream.JetStream, stream string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	str, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range str.ConsumerNames(ctx).Name() {
		if strings.HasPrefix(n, natsadapter.DefaultIndexerDurable) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// sendOnBoth has Alice (on a) and Bob (on b) send n messages each into a
// group of theirs, every one holding word; it returns their sessions.
func sendOnBoth(t *testing.T, a, b server, word string, n int) (alice, bob session) {
	t.Helper()
	alice, bob = a.pair(t)
	var chat struct{ ID int64 }
	a.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "group", "name": "two instances", "member_ids": []int64{bob.User.ID}}, &chat)
	path := fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID)
	for i := range n {
		a.call(t, 201, "POST", path, alice.AccessToken, map[string]any{"content": fmt.Sprintf("%s from alice %d", word, i)}, nil)
		b.call(t, 201, "POST", path, bob.AccessToken, map[string]any{"content": fmt.Sprintf("%s from bob %d", word, i)}, nil)
	}
	return alice, bob
}

func searchTotal(t *testing.T, s server, token, word string) int {
	t.Helper()
	var r struct {
		Hits []struct{} `json:"hits"`
	}
	s.call(t, 200, "GET", "/api/v1/search/messages?limit=100&q="+url.QueryEscape(word), token, nil, &r)
	return len(r.Hits)
}

// TestEveryInstanceIndexesEveryMessageWithTheEmbeddedIndex: two servers
// with Bleve (an index inside each process) on one NATS. Each must find
// every message, whichever instance it was sent through: each has a stream
// consumer of its own (issue 19: they shared one, and each index held
// about half the messages).
func TestEveryInstanceIndexesEveryMessageWithTheEmbeddedIndex(t *testing.T) {
	t.Parallel()
	a, b, js, stream := pairOfInstances(t, "FECHATTER_SEARCH_BACKEND=bleve")
	const n = 10
	alice, bob := sendOnBoth(t, a, b, "quokka", n)
	for _, c := range []struct {
		name  string
		s     server
		token string
	}{{"instance a (alice)", a, alice.AccessToken}, {"instance b (bob)", b, bob.AccessToken}, {"instance b (alice)", b, alice.AccessToken}} {
		porttest.Eventually(t, 30*time.Second, c.name+" to find all "+fmt.Sprint(2*n)+" messages", func() bool {
			return searchTotal(t, c.s, c.token, "quokka") == 2*n
		})
	}
	got := indexerConsumers(t, js, stream)
	if len(got) != 2 || !strings.HasPrefix(got[0], natsadapter.DefaultIndexerDurable+"-bleve-") || got[0] == got[1] {
		t.Fatalf("indexer consumers %v, want one per instance (%s-bleve-<index id>)", got, natsadapter.DefaultIndexerDurable)
	}
}

// TestInstancesShareOneIndexerWithMeilisearch: two servers on one
// Meilisearch (the in-process fake) share one durable consumer, so each
// message is indexed once, not once per instance.
func TestInstancesShareOneIndexerWithMeilisearch(t *testing.T) {
	t.Parallel()
	fake := meilitest.New(t, "")
	a, b, js, stream := pairOfInstances(t, "FECHATTER_SEARCH_BACKEND=meili", "MEILI_URL="+fake.URL())
	const n = 10
	alice, _ := sendOnBoth(t, a, b, "wombat", n)
	porttest.Eventually(t, 30*time.Second, "both instances to find all 20 messages", func() bool {
		return searchTotal(t, a, alice.AccessToken, "wombat") == 2*n && searchTotal(t, b, alice.AccessToken, "wombat") == 2*n
	})
	if got := indexerConsumers(t, js, stream); !slices.Equal(got, []string{natsadapter.DefaultIndexerDurable}) {
		t.Fatalf("indexer consumers %v, want the one shared %q", got, natsadapter.DefaultIndexerDurable)
	}
	// Each message was written to the index once: the documents sent add
	// up to the messages (the workspace's sign-ups index nothing).
	docs := 0
	for _, r := range fake.RequestsTo("POST", "/indexes/messages/documents") {
		docs += strings.Count(string(r.Body), `"content"`)
	}
	if docs != 2*n {
		t.Fatalf("%d documents written to Meilisearch for %d messages: work done twice", docs, 2*n)
	}
}

// TestBenchSpreadsUsersOverInstances runs the fanout workload against two
// instances: users alternate between them, every delivery arrives, and the
// report splits the latency into same- and cross-instance deliveries.
func TestBenchSpreadsUsersOverInstances(t *testing.T) {
	t.Parallel()
	a, b, _, _ := pairOfInstances(t, "FECHATTER_LIMITS_SEND_RATE_PER_SECOND=1000", "FECHATTER_LIMITS_SEND_RATE_BURST=2000",
		"FECHATTER_AUTH_SIGNUP_LIMIT_MAX=100000")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Config{URL: a.base + ", " + b.base, Workload: bench.Fanout, Users: 20, ChatSize: 4,
		Rate: 20, Duration: 2 * time.Second, Drain: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Deliveries
	if rep.Messages.Sent != 40 || d.Expected != 160 || d.Received != 160 || d.Duplicates != 0 {
		t.Fatalf("sent %d, deliveries %+v, errors %v", rep.Messages.Sent, d, rep.Errors)
	}
	same, cross := rep.DeliveryLatencySameInstance.Count, rep.DeliveryLatencyCrossInstance.Count
	// Chats of 4 consecutive users: 2 on each instance, so a sender's
	// message reaches 2 connections on its instance (its own included)
	// and 2 on the other.
	if same != 80 || cross != 80 || rep.Flags.Instances != 2 {
		t.Fatalf("same-instance deliveries %d, cross-instance %d (instances %d), want 80 and 80", same, cross, rep.Flags.Instances)
	}
}

// TestBenchRetryRecoversFromALostInstance runs the fanout workload with
// --retry --verify against two instances and stops one of them a second
// into the timed phase: its users' sockets drop, are dialled again on the
// other instance (the stopped one refuses connections) and caught up with
// after_seq, their sends are made again there with the same keys, and
// the read-back finds every acknowledged message stored once, in order,
// without a gap.
func TestBenchRetryRecoversFromALostInstance(t *testing.T) {
	t.Parallel()
	a, b, _, _ := pairOfInstances(t, "FECHATTER_LIMITS_SEND_RATE_PER_SECOND=1000", "FECHATTER_LIMITS_SEND_RATE_BURST=2000",
		"FECHATTER_AUTH_SIGNUP_LIMIT_MAX=100000")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	running := make(chan struct{})
	var once sync.Once
	type result struct {
		rep *bench.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := bench.Run(ctx, bench.Config{URL: a.base + "," + b.base, Workload: bench.Fanout, Users: 20, ChatSize: 4,
			Rate: 40, Duration: 4 * time.Second, Drain: 30 * time.Second, Retry: true, Verify: true,
			Progress: func(p bench.Progress) {
				if p.Phase == "run" && p.Elapsed >= time.Second {
					once.Do(func() { close(running) })
				}
			}})
		done <- result{rep, err}
	}()
	select {
	case <-running:
		b.stop() // graceful: its sockets closed with 1001, its listener closed
	case r := <-done:
		t.Fatalf("the run ended before its timed phase: %v", r.err)
	}
	r := <-done
	rep, err := r.rep, r.err
	if err != nil {
		t.Fatalf("run: %v (errors %v)", err, rep.Errors)
	}
	d, rt, v := rep.Deliveries, rep.Retry, rep.Verify
	if rep.Messages.Sent != 160 || rep.Messages.Failed != 0 {
		t.Fatalf("%d of 160 sends acknowledged, %d failed (errors %v)", rep.Messages.Sent, rep.Messages.Failed, rep.Errors)
	}
	if d.Expected != 640 || d.Received != 640 || d.Duplicates != 0 || d.OutOfOrder != 0 {
		t.Fatalf("deliveries %+v (retry %+v)", d, rt)
	}
	// The 10 users of instance b: each socket dialled again, on a, and
	// each user's chat read from where its deliveries stopped; the
	// messages sent meanwhile reached them that way.
	if rt == nil || rt.Reconnects < 10 || rt.Failovers < 10 || rt.CatchUps < rt.Reconnects || rt.CaughtUp == 0 {
		t.Fatalf("retry %+v: want at least 10 reconnects and failovers, a catch-up each, messages caught up", rt)
	}
	if v == nil || !v.Clean() || v.Acked != 160 || v.Read != 160 || v.Chats != 5 {
		t.Fatalf("verify: %v", v)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), "clean: 5 chats read back") ||
		!strings.Contains(text.String(), "users moved to another instance") {
		t.Fatalf("text report (%v):\n%s", err, text.String())
	}
}
