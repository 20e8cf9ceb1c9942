package porttest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/fechatter/fechatter/ports"
)

// pendingLimit is large enough to see every entry the cases of one package
// leave in a shared outbox at once.
const pendingLimit = 10000

// RunOutbox checks Outbox and OutboxStore. It uses Env.Tx (Add runs inside
// a transaction), Env.Outbox and Env.OutboxStore, which must share one
// store; newEnv is called once per case. Other tests may use the same outbox
// at the same time: each case looks only at the events it added and removes
// them when it ends. The events refer to no stored rows. Nothing else should remove entries meanwhile (no relay
// may run against that store).
func RunOutbox(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()

	t.Run("add then pending in order, then remove", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		evs := newEvents(3)
		if err := env.Tx.InTx(ctx, func(ctx context.Context) error { return env.Outbox.Add(ctx, evs[:2]...) }); err != nil {
			t.Fatalf("Add: %v", err)
		}
		if err := env.Tx.InTx(ctx, func(ctx context.Context) error { return env.Outbox.Add(ctx, evs[2]) }); err != nil {
			t.Fatalf("Add: %v", err)
		}
		mine := pendingOf(t, env, evs)
		t.Cleanup(func() { _ = env.OutboxStore.Remove(context.Background(), positions(mine)) })
		if len(mine) != 3 {
			t.Fatalf("pending has %d of the 3 added events", len(mine))
		}
		for i, e := range mine {
			checkEvent(t, e.Event, evs[i])
		}

		if err := env.OutboxStore.Remove(ctx, positions(mine[:2])); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		left := pendingOf(t, env, evs)
		if len(left) != 1 || left[0].Position != mine[2].Position {
			t.Fatalf("after Remove pending has %+v; want only position %d", left, mine[2].Position)
		}
		checkEvent(t, left[0].Event, evs[2])
		// Removing unknown or already removed positions is not an error.
		if err := env.OutboxStore.Remove(ctx, positions(mine)); err != nil {
			t.Fatalf("Remove again: %v", err)
		}
		if left := pendingOf(t, env, evs); len(left) != 0 {
			t.Fatalf("after removing all, pending has %+v", left)
		}
		if err := env.OutboxStore.Remove(ctx, nil); err != nil {
			t.Fatalf("Remove(nil): %v", err)
		}
	})

	t.Run("pending honours limit", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		evs := newEvents(3)
		if err := env.Tx.InTx(ctx, func(ctx context.Context) error { return env.Outbox.Add(ctx, evs...) }); err != nil {
			t.Fatalf("Add: %v", err)
		}
		t.Cleanup(func() { _ = env.OutboxStore.Remove(context.Background(), positions(pendingOf(t, env, evs))) })
		got, err := env.OutboxStore.Pending(ctx, 2)
		if err != nil {
			t.Fatalf("Pending: %v", err)
		}
		if len(got) == 0 || len(got) > 2 {
			t.Fatalf("Pending(2) returned %d entries; want 1 or 2", len(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i].Position <= got[i-1].Position {
				t.Fatalf("Pending out of order: %+v", got)
			}
		}
	})

	t.Run("add in a rolled-back transaction leaves nothing", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		evs := newEvents(2)
		boom := errors.New("boom")
		err := env.Tx.InTx(ctx, func(ctx context.Context) error {
			if err := env.Outbox.Add(ctx, evs...); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v; want the fn's error", err)
		}
		if mine := pendingOf(t, env, evs); len(mine) != 0 {
			t.Fatalf("rolled-back events are pending: %+v", mine)
		}
	})

	t.Run("notify after a commit that added events", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ch := env.OutboxStore.Notify()
		if ch == nil {
			t.Fatalf("Notify returned nil")
		}
		drain(ch)
		evs := newEvents(1)
		if err := env.Tx.InTx(ctx, func(ctx context.Context) error { return env.Outbox.Add(ctx, evs...) }); err != nil {
			t.Fatalf("Add: %v", err)
		}
		t.Cleanup(func() { _ = env.OutboxStore.Remove(context.Background(), positions(pendingOf(t, env, evs))) })
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("no notification within 5s of a commit that added events")
		}
	})
}

// newEvents makes n events with unique ids.
func newEvents(n int) []ports.Event {
	evs := make([]ports.Event, n)
	at := Now()
	for i := range evs {
		evs[i] = ports.Event{ID: UUID(), Type: ports.EventMessageCreated, Version: ports.EventVersion,
			OccurredAt: at.Add(time.Duration(i) * time.Millisecond), WorkspaceID: int64(100 + i), ChatID: int64(200 + i),
			Data: json.RawMessage(`{"seq":` + strconv.Itoa(i+1) + `,"content":"hello"}`)}
	}
	evs[n-1].ChatID, evs[n-1].UserID, evs[n-1].Type = 0, 300, "user.test"
	return evs
}

// pendingOf returns the pending entries holding one of evs, in outbox order.
func pendingOf(t testing.TB, env Env, evs []ports.Event) []ports.OutboxEntry {
	t.Helper()
	all, err := env.OutboxStore.Pending(context.Background(), pendingLimit)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	ids := make(map[string]bool, len(evs))
	for _, e := range evs {
		ids[e.ID] = true
	}
	var mine []ports.OutboxEntry
	for i, e := range all {
		if i > 0 && e.Position <= all[i-1].Position {
			t.Fatalf("Pending not in position order: %d after %d", e.Position, all[i-1].Position)
		}
		if ids[e.Event.ID] {
			mine = append(mine, e)
		}
	}
	return mine
}

func positions(es []ports.OutboxEntry) []int64 {
	ps := make([]int64, len(es))
	for i, e := range es {
		ps[i] = e.Position
	}
	return ps
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// checkEvent compares events field by field; Data as JSON values, since a
// store may reformat it.
func checkEvent(t *testing.T, got, want ports.Event) {
	t.Helper()
	var gd, wd any
	if err := json.Unmarshal(got.Data, &gd); err != nil {
		t.Fatalf("event data %q: %v", got.Data, err)
	}
	_ = json.Unmarshal(want.Data, &wd)
	if got.ID != want.ID || got.Type != want.Type || got.Version != want.Version ||
		!sameTime(got.OccurredAt, want.OccurredAt) || got.WorkspaceID != want.WorkspaceID ||
		got.ChatID != want.ChatID || got.UserID != want.UserID || !reflect.DeepEqual(gd, wd) {
		t.Fatalf("event = %+v (data %s); want %+v (data %s)", got, got.Data, want, want.Data)
	}
}
