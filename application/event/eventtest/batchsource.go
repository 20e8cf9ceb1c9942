// Package eventtest holds the contract suites of the ports of package
// event, run by every adapter that implements them.
package eventtest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

// BatchSourceEnv is one fresh subscription: Source hands out what Publish
// published (message events), and redelivers an unacked event after
// AckWait.
type BatchSourceEnv struct {
	Source  event.EventBatchSource
	Publish func(t *testing.T, e ports.Event)
	AckWait time.Duration
}

// RunEventBatchSource checks event.EventBatchSource: order, ack, nak,
// redelivery after the ack wait, term, and an empty fetch that returns.
// newEnv is called once per case.
func RunEventBatchSource(t *testing.T, newEnv func(t *testing.T) BatchSourceEnv) {
	ctx := context.Background()
	publish := func(t *testing.T, env BatchSourceEnv, ids ...string) {
		t.Helper()
		for _, id := range ids {
			env.Publish(t, ports.Event{ID: id, Type: ports.EventMessageCreated, Version: ports.EventVersion,
				OccurredAt: time.Now().UTC(), WorkspaceID: 1, ChatID: 7, Data: json.RawMessage(`{"id":1}`)})
		}
	}
	// fetch gathers n events, polling with short waits.
	fetch := func(t *testing.T, env BatchSourceEnv, n int, within time.Duration) []event.DeliveredEvent {
		t.Helper()
		var got []event.DeliveredEvent
		porttest.Eventually(t, within, fmt.Sprintf("%d events", n), func() bool {
			ds, err := env.Source.Fetch(ctx, n-len(got), 100*time.Millisecond)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			got = append(got, ds...)
			return len(got) >= n
		})
		return got
	}
	ids := func(ds []event.DeliveredEvent) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Event().ID)
		}
		return out
	}
	// nothingMore checks that a fetch comes back empty.
	nothingMore := func(t *testing.T, env BatchSourceEnv) {
		t.Helper()
		ds, err := env.Source.Fetch(ctx, 10, 200*time.Millisecond)
		if err != nil || len(ds) != 0 {
			t.Fatalf("fetch = %v, %v; want nothing", ids(ds), err)
		}
	}

	t.Run("InOrder", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		publish(t, env, "a", "b", "c", "d")
		got := fetch(t, env, 4, 10*time.Second)
		if !slices.Equal(ids(got), []string{"a", "b", "c", "d"}) {
			t.Fatalf("fetched %v, want a b c d", ids(got))
		}
		if e := got[0].Event(); e.Type != ports.EventMessageCreated || e.ChatID != 7 || e.WorkspaceID != 1 {
			t.Errorf("event decoded as %+v", e)
		}
		for _, d := range got {
			if err := d.Ack(); err != nil {
				t.Fatalf("Ack: %v", err)
			}
		}
		nothingMore(t, env)
	})
	t.Run("NakRedeliversAckDoesNot", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		publish(t, env, "a", "b")
		got := fetch(t, env, 2, 10*time.Second)
		if err := got[0].Ack(); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		if err := got[1].Nak(0); err != nil {
			t.Fatalf("Nak: %v", err)
		}
		again := fetch(t, env, 1, 10*time.Second)
		if !slices.Equal(ids(again), []string{"b"}) {
			t.Fatalf("after a nak: %v, want [b]", ids(again))
		}
		_ = again[0].Ack()
		nothingMore(t, env)
	})
	t.Run("UnackedRedeliveredAfterAckWait", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		publish(t, env, "a")
		first := fetch(t, env, 1, 10*time.Second)
		late := fetch(t, env, 1, env.AckWait+10*time.Second)
		if !slices.Equal(ids(late), ids(first)) {
			t.Fatalf("redelivered %v, want %v", ids(late), ids(first))
		}
		_ = late[0].Ack()
	})
	t.Run("TermDrops", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		publish(t, env, "a")
		got := fetch(t, env, 1, 10*time.Second)
		if err := got[0].Term(); err != nil {
			t.Fatalf("Term: %v", err)
		}
		nothingMore(t, env)
	})
	t.Run("FetchRespectsMax", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		publish(t, env, "a", "b", "c")
		ds, err := env.Source.Fetch(ctx, 2, 5*time.Second)
		if err != nil || len(ds) > 2 {
			t.Fatalf("Fetch(max 2) = %v, %v", ids(ds), err)
		}
		for _, d := range ds {
			_ = d.Ack()
		}
	})
}
