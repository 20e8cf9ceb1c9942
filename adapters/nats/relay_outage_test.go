package nats_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	natsadapter "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/ports"
)

// TestRelayOutage runs the outbox relay against an embedded server that goes
// down and comes back on the same port and store: events added before,
// during and after the outage all end up in the stream exactly once, each
// chat's in the order they were added.
// It runs with a publisher that publishes one event at a time and with one
// that has whole batches in flight.
func TestRelayOutage(t *testing.T) {
	t.Run("one at a time", func(t *testing.T) { relayOutage(t, false) })
	t.Run("batches in flight", func(t *testing.T) { relayOutage(t, true) })
}

func relayOutage(t *testing.T, batches bool) {
	storeDir := t.TempDir()
	srv := startEmbedded(t, natsadapter.EmbeddedConfig{StoreDir: storeDir})
	port := srv.Port()

	nc := connect(t, srv.ClientURL(), nats.ReconnectWait(20*time.Millisecond))
	js := jetStream(t, nc)
	cfg := uniqueStream()
	if _, err := natsadapter.EnsureStream(ctxFor(t), js, cfg); err != nil {
		t.Fatalf("EnsureStream: %v", err)
	}
	pub, err := natsadapter.NewPublisher(js, cfg, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	bus := &countingPublisher{next: pub, changed: make(chan struct{}, 1)}
	var to ports.EventPublisher = bus
	if batches {
		to = &countingBatchPublisher{countingPublisher: bus, next: pub}
	}
	outbox := newTestOutbox(bus.changed)
	relay, err := event.NewOutboxRelay(outbox, to, zap.NewNop(), event.RelayOptions{
		BatchSize:    7,
		PollInterval: 50 * time.Millisecond,
		MinBackoff:   10 * time.Millisecond,
		MaxBackoff:   100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	relayDone := make(chan error, 1)
	go func() { relayDone <- relay.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-relayDone:
			if err != nil {
				t.Errorf("relay Run: %v", err)
			}
		case <-time.After(testWait):
			t.Error("relay did not stop")
		}
	}()

	var added []ports.Event
	addEvents := func(n int) {
		for i := 0; i < n; i++ {
			e := testEvent(fmt.Sprintf("ev-%03d", len(added)), int64(1+len(added)%3), ports.EventMessageCreated)
			added = append(added, e)
			outbox.Add(e)
		}
	}

	addEvents(20)
	waitUntil(t, bus.changed, "the first events to be published", outbox.empty)

	srv.Shutdown()
	failuresBefore := bus.failures()
	addEvents(20)
	waitUntil(t, bus.changed, "the relay to fail and retry", func() bool {
		return bus.failures() >= failuresBefore+3
	})
	if n := len(outbox.pending()); n != 20 {
		t.Fatalf("while NATS is down the outbox holds %d events, want 20", n)
	}
	addEvents(10)

	srv2 := startEmbedded(t, natsadapter.EmbeddedConfig{StoreDir: storeDir, Port: port})
	if srv2.ClientURL() != srv.ClientURL() {
		t.Fatalf("restarted on %s, want %s", srv2.ClientURL(), srv.ClientURL())
	}
	addEvents(10)
	waitUntil(t, bus.changed, "the outbox to drain after the restart", outbox.empty)

	stream, err := js.Stream(ctxFor(t), cfg.Name)
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	stored := streamEvents(t, stream)
	if len(stored) != len(added) {
		t.Fatalf("stream holds %d events, want %d (got %v)", len(stored), len(added), eventIDs(stored))
	}
	seen := map[string]bool{}
	for _, s := range stored {
		if seen[s.Event.ID] {
			t.Fatalf("event %s stored twice", s.Event.ID)
		}
		seen[s.Event.ID] = true
	}
	for _, e := range added {
		if !seen[e.ID] {
			t.Fatalf("event %s was lost", e.ID)
		}
	}
	for chat := int64(1); chat <= 3; chat++ {
		var want, got []string
		for _, e := range added {
			if e.ChatID == chat {
				want = append(want, e.ID)
			}
		}
		for _, s := range stored {
			if s.Event.ChatID == chat {
				got = append(got, s.Event.ID)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("chat %d in the stream: %v, want %v", chat, got, want)
		}
	}
	if bus.failures() == failuresBefore {
		t.Fatal("the relay never failed: the outage was not exercised")
	}
}

// countingPublisher counts failed publishes and signals every attempt.
type countingPublisher struct {
	next    ports.EventPublisher
	changed chan struct{}

	mu     sync.Mutex
	failed int
}

func (p *countingPublisher) Publish(ctx context.Context, e ports.Event) error {
	err := p.next.Publish(ctx, e)
	p.mu.Lock()
	if err != nil {
		p.failed++
	}
	p.mu.Unlock()
	signal(p.changed)
	return err
}

// countingBatchPublisher is a countingPublisher that publishes batches.
type countingBatchPublisher struct {
	*countingPublisher
	next ports.EventBatchPublisher
}

func (p *countingBatchPublisher) PublishBatch(ctx context.Context, events []ports.Event) (int, error) {
	n, err := p.next.PublishBatch(ctx, events)
	p.mu.Lock()
	if err != nil {
		p.failed++
	}
	p.mu.Unlock()
	signal(p.changed)
	return n, err
}

func (p *countingPublisher) failures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

// testOutbox is a minimal in-memory ports.OutboxStore for this test.
type testOutbox struct {
	changed chan struct{}
	notify  chan struct{}

	mu      sync.Mutex
	entries []ports.OutboxEntry
	next    int64
}

func newTestOutbox(changed chan struct{}) *testOutbox {
	return &testOutbox{changed: changed, notify: make(chan struct{}, 1)}
}

func (o *testOutbox) Add(events ...ports.Event) {
	o.mu.Lock()
	for _, e := range events {
		o.next++
		o.entries = append(o.entries, ports.OutboxEntry{Position: o.next, Event: e})
	}
	o.mu.Unlock()
	signal(o.notify)
}

func (o *testOutbox) Pending(_ context.Context, limit int) ([]ports.OutboxEntry, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.entries[:min(limit, len(o.entries))]), nil
}

func (o *testOutbox) Remove(_ context.Context, positions []int64) error {
	o.mu.Lock()
	o.entries = slices.DeleteFunc(o.entries, func(e ports.OutboxEntry) bool {
		return slices.Contains(positions, e.Position)
	})
	o.mu.Unlock()
	signal(o.changed)
	return nil
}

func (o *testOutbox) Notify() <-chan struct{} { return o.notify }

func (o *testOutbox) pending() []ports.OutboxEntry {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.entries)
}

func (o *testOutbox) empty() bool { return len(o.pending()) == 0 }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// waitUntil waits for cond, re-checking whenever changed fires.
func waitUntil(t *testing.T, changed <-chan struct{}, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(testWait)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", testWait, what)
		}
	}
}
