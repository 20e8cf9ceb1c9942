package postgres_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

func TestOutboxBacklogCountsPendingEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	outbox := postgres.NewOutbox(pgtest.NewDB(t)) // a database of its own: the count is exact
	backlog := func() int {
		t.Helper()
		n, err := outbox.Backlog(ctx)
		if err != nil {
			t.Fatalf("Backlog: %v", err)
		}
		return n
	}
	if n := backlog(); n != 0 {
		t.Fatalf("backlog of a new outbox = %d", n)
	}
	var evs []ports.Event
	for range 3 {
		evs = append(evs, ports.Event{ID: porttest.UUID(), Type: ports.EventMessageCreated, Version: ports.EventVersion,
			OccurredAt: porttest.Now(), WorkspaceID: 1, ChatID: 2, Data: json.RawMessage(`{}`)})
	}
	if err := outbox.Add(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	if n := backlog(); n != 3 {
		t.Fatalf("backlog = %d, want 3", n)
	}
	pending, err := outbox.Pending(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := outbox.Remove(ctx, []int64{pending[0].Position, pending[1].Position}); err != nil {
		t.Fatal(err)
	}
	if n := backlog(); n != 1 {
		t.Fatalf("backlog after publishing 2 = %d, want 1", n)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := outbox.Backlog(canceled); err == nil {
		t.Fatal("Backlog with a canceled context succeeded")
	}
}

// The outbox vacuums itself once enough events were removed: the relay's
// scan must not depend on someone else's autovacuum.
func TestOutboxVacuumsItself(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	outbox := postgres.NewOutbox(db)
	events := make([]ports.Event, 20_000)
	for i := range events {
		events[i] = ports.Event{ID: porttest.UUID(), Type: ports.EventMessageCreated, Version: ports.EventVersion,
			OccurredAt: time.Now(), WorkspaceID: 1, ChatID: 1, Data: []byte(`{}`)}
	}
	if err := outbox.Add(ctx, events...); err != nil {
		t.Fatal(err)
	}
	entries, err := outbox.Pending(ctx, len(events))
	if err != nil {
		t.Fatal(err)
	}
	positions := make([]int64, len(entries))
	for i, e := range entries {
		positions[i] = e.Position
	}
	if err := outbox.Remove(ctx, positions); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var vacuums int64
		if err := db.NewRaw(`SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'outbox'`).Scan(ctx, &vacuums); err != nil {
			t.Fatal(err)
		}
		if vacuums > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no VACUUM of the outbox within 30s of removing %d events", len(positions))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
