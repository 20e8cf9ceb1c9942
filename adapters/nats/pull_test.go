package nats_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	natsadapter "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/ports"
)

func pullEvent(id, typ string, chatID, userID int64) ports.Event {
	return ports.Event{ID: id, Type: typ, Version: ports.EventVersion, OccurredAt: time.Now().UTC(),
		WorkspaceID: 1, ChatID: chatID, UserID: userID, Data: json.RawMessage(`{"id":1}`)}
}

func pullIDs(ds []event.DeliveredEvent) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.Event().ID)
	}
	return ids
}

// fetchAll fetches until n events came or the wait ran out.
func pullFetchAll(t *testing.T, src *natsadapter.PullSource, n int, within time.Duration) []event.DeliveredEvent {
	t.Helper()
	var out []event.DeliveredEvent
	deadline := time.Now().Add(within)
	for len(out) < n && time.Now().Before(deadline) {
		got, err := src.Fetch(ctxFor(t), n-len(out), 200*time.Millisecond)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		out = append(out, got...)
	}
	return out
}

func TestPullSourceDeliversMessageEventsWithExplicitAck(t *testing.T) {
	srv := startEmbedded(t, natsadapter.EmbeddedConfig{StoreDir: t.TempDir()})
	t.Cleanup(srv.Shutdown)
	nc := connect(t, srv.ClientURL())
	js := jetStream(t, nc)
	cfg := uniqueStream()
	ensureStream(t, js, cfg)
	pub, err := natsadapter.NewPublisher(js, cfg, 5*time.Second)
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	ctx := ctxFor(t)
	pcfg := natsadapter.PullConsumerConfig{Stream: cfg, AckWait: 2 * time.Second}
	src, err := natsadapter.NewPullSource(ctx, js, pcfg, zap.NewNop())
	if err != nil {
		t.Fatalf("NewPullSource: %v", err)
	}
	if _, err := natsadapter.NewPullSource(ctx, js, pcfg, zap.NewNop()); err != nil {
		t.Fatalf("NewPullSource again (idempotent): %v", err)
	}

	for _, e := range []ports.Event{
		pullEvent("m1", ports.EventMessageCreated, 5, 0),
		pullEvent("c1", ports.EventChatUpdated, 5, 0),
		pullEvent("m2", ports.EventMessageUpdated, 6, 0),
		pullEvent("u1", ports.EventChatCreated, 0, 9),
		pullEvent("m3", ports.EventMessageDeleted, 5, 0),
	} {
		if err := pub.Publish(ctx, e); err != nil {
			t.Fatalf("Publish %s: %v", e.ID, err)
		}
	}
	// Not an event envelope, on a message subject: terminated, not returned.
	if _, err := js.Publish(ctx, cfg.Prefix+".chat.5.message.created", []byte("garbage")); err != nil {
		t.Fatalf("publish garbage: %v", err)
	}
	if err := pub.Publish(ctx, pullEvent("m4", ports.EventMessageCreated, 5, 0)); err != nil {
		t.Fatalf("Publish m4: %v", err)
	}

	got := pullFetchAll(t, src, 4, 5*time.Second)
	if ids := pullIDs(got); !slices.Equal(ids, []string{"m1", "m2", "m3", "m4"}) {
		t.Fatalf("fetched %v, want the message events in stream order", ids)
	}
	if e := got[1].Event(); e.Type != ports.EventMessageUpdated || e.ChatID != 6 || e.WorkspaceID != 1 {
		t.Errorf("decoded event %+v", e)
	}

	// Ack two, nak one at once, leave one unacked: the nak'd one comes back
	// now, the unacked one after AckWait, the acked ones never.
	for _, d := range got[:2] {
		if err := d.Ack(); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	if err := got[2].Nak(0); err != nil {
		t.Fatalf("Nak: %v", err)
	}
	again := pullFetchAll(t, src, 1, 5*time.Second)
	if ids := pullIDs(again); !slices.Equal(ids, []string{"m3"}) {
		t.Fatalf("after nak: %v, want [m3]", ids)
	}
	_ = again[0].Ack()
	late := pullFetchAll(t, src, 1, 10*time.Second)
	if ids := pullIDs(late); !slices.Equal(ids, []string{"m4"}) {
		t.Fatalf("after the ack wait: %v, want [m4] redelivered", ids)
	}
	_ = late[0].Ack()

	// Durable: a new source on the same consumer starts after the acked
	// events.
	if err := pub.Publish(ctx, pullEvent("m5", ports.EventMessageCreated, 5, 0)); err != nil {
		t.Fatalf("Publish m5: %v", err)
	}
	src2, err := natsadapter.NewPullSource(ctx, js, pcfg, nil)
	if err != nil {
		t.Fatalf("NewPullSource: %v", err)
	}
	next := pullFetchAll(t, src2, 1, 5*time.Second)
	if ids := pullIDs(next); !slices.Equal(ids, []string{"m5"}) {
		t.Fatalf("second source fetched %v, want [m5]", ids)
	}
	_ = next[0].Ack()

	// Nothing left: Fetch waits about wait and returns empty.
	start := time.Now()
	none, err := src.Fetch(ctx, 10, 300*time.Millisecond)
	if err != nil || len(none) != 0 {
		t.Errorf("empty stream: %v, %v", pullIDs(none), err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > 3*time.Second {
		t.Errorf("empty fetch took %s, want about 300ms", took)
	}

	info, err := js.Consumer(ctx, cfg.Name, natsadapter.DefaultIndexerDurable)
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	c := info.CachedInfo().Config
	if c.AckPolicy != jetstream.AckExplicitPolicy || c.FilterSubject != cfg.Prefix+".chat.*.message.*" || len(c.FilterSubjects) != 0 {
		t.Errorf("consumer config: ack %v, filter %q %v", c.AckPolicy, c.FilterSubject, c.FilterSubjects)
	}
}

func TestPullSourceFetchReturnsOnCancel(t *testing.T) {
	srv := startEmbedded(t, natsadapter.EmbeddedConfig{StoreDir: t.TempDir()})
	t.Cleanup(srv.Shutdown)
	js := jetStream(t, connect(t, srv.ClientURL()))
	cfg := uniqueStream()
	ensureStream(t, js, cfg)
	src, err := natsadapter.NewPullSource(ctxFor(t), js, natsadapter.PullConsumerConfig{Stream: cfg}, nil)
	if err != nil {
		t.Fatalf("NewPullSource: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	if _, err := src.Fetch(ctx, 10, 10*time.Second); err == nil {
		t.Error("Fetch after cancel returned no error")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Fetch returned %s after cancel", took)
	}
}

func TestPullSourceFeedsTheIndexer(t *testing.T) {
	srv := startEmbedded(t, natsadapter.EmbeddedConfig{StoreDir: t.TempDir()})
	t.Cleanup(srv.Shutdown)
	js := jetStream(t, connect(t, srv.ClientURL()))
	cfg := uniqueStream()
	ensureStream(t, js, cfg)
	pub, _ := natsadapter.NewPublisher(js, cfg, 5*time.Second)
	src, err := natsadapter.NewPullSource(ctxFor(t), js, natsadapter.PullConsumerConfig{Stream: cfg}, nil)
	if err != nil {
		t.Fatalf("NewPullSource: %v", err)
	}
	idx := &pullIndex{docs: make(chan ports.SearchDocument, 100)}
	ix, err := event.NewIndexer(src, idx, nil, event.IndexerOptions{BatchSize: 10, BatchTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("NewIndexer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = ix.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	for i := range 15 {
		e := pullEvent("", ports.EventMessageCreated, 5, 0)
		e.ID = "idx-" + string(rune('a'+i))
		e.Data, _ = json.Marshal(map[string]any{"id": i + 1, "chat_id": 5, "seq": i + 1, "content": "hello", "created_at": time.Now().UTC()})
		if err := pub.Publish(ctxFor(t), e); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	seen := map[int64]bool{}
	timeout := time.After(testWait)
	for len(seen) < 15 {
		select {
		case d := <-idx.docs:
			seen[d.ID] = true
		case <-timeout:
			t.Fatalf("indexed %d of 15 messages", len(seen))
		}
	}
}

type pullIndex struct{ docs chan ports.SearchDocument }

func (x *pullIndex) Upsert(_ context.Context, docs []ports.SearchDocument) error {
	for _, d := range docs {
		x.docs <- d
	}
	return nil
}
func (x *pullIndex) Delete(context.Context, []int64) error { return nil }
func (x *pullIndex) Search(context.Context, ports.SearchQuery) (ports.SearchResult, error) {
	return ports.SearchResult{}, nil
}
func (x *pullIndex) Ping(context.Context) error { return nil }
