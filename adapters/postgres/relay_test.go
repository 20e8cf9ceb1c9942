package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

// recordingBus is an EventPublisher that counts what it was given.
type recordingBus struct {
	mu        sync.Mutex
	published map[string]int
}

func (b *recordingBus) Publish(_ context.Context, e ports.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.published[e.ID]++
	return nil
}

// The relays of three instances on one outbox take turns: every event is
// published once, not once per instance, and the outbox ends empty.
func TestRelaysOfSeveralInstancesTakeTurns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	bus := &recordingBus{published: map[string]int{}}
	var relays []*event.OutboxRelay
	var outboxes []*postgres.Outbox
	for range 3 {
		o := postgres.NewOutbox(db)
		r, err := event.NewOutboxRelay(o, bus, nil, event.RelayOptions{BatchSize: 50})
		if err != nil {
			t.Fatal(err)
		}
		relays, outboxes = append(relays, r), append(outboxes, o)
	}
	const n = 600
	var wg sync.WaitGroup
	for i := range n / 20 { // each instance adds events and drains, all at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			events := make([]ports.Event, 20)
			for j := range events {
				events[j] = ports.Event{ID: porttest.UUID(), Type: ports.EventMessageCreated, Version: ports.EventVersion,
					OccurredAt: time.Now(), WorkspaceID: 1, ChatID: int64(1 + j%3), Data: []byte(`{}`)}
			}
			if err := outboxes[i%3].Add(ctx, events...); err != nil {
				t.Error(err)
				return
			}
			if err := relays[i%3].Flush(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, r := range relays {
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	bus.mu.Lock()
	defer bus.mu.Unlock()
	if len(bus.published) != n {
		t.Fatalf("%d distinct events published, want %d", len(bus.published), n)
	}
	for id, times := range bus.published {
		if times != 1 {
			t.Fatalf("event %s published %d times by the relays together, want once", id, times)
		}
	}
	if left, err := outboxes[0].Pending(ctx, n); err != nil || len(left) != 0 {
		t.Fatalf("outbox holds %d events after the relays drained it (%v)", len(left), err)
	}
}

// A relay's turn (which only removes published events: a lost removal
// means a copy the stream drops) commits without waiting for its WAL
// flush; the setting is the turn's own, every other transaction (the
// senders': an ack means durable) keeps synchronous_commit on.
func TestRelayTurnDoesNotWaitForTheFlush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	db.SetMaxOpenConns(1) // the same connection before, in and after the turn
	setting := func(ctx context.Context) string {
		t.Helper()
		var s string
		if err := postgres.ConnOf(ctx, db).QueryRowContext(ctx, "SELECT current_setting('synchronous_commit')").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := setting(ctx); s != "on" {
		t.Fatalf("synchronous_commit is %q before the turn, want on (the database's default here)", s)
	}
	var inTurn string
	if err := postgres.NewOutbox(db).Exclusive(ctx, func(ctx context.Context) error {
		inTurn = setting(ctx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if inTurn != "off" {
		t.Fatalf("synchronous_commit in the relay's turn is %q, want off", inTurn)
	}
	if s := setting(ctx); s != "on" {
		t.Fatalf("synchronous_commit after the turn is %q on the same connection, want on", s)
	}
}
