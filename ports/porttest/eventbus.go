package porttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/ports"
)

// busWait bounds every wait of the event bus suite. Generous, because
// it is only reached when a test fails (or the machine is very slow).
const busWait = 15 * time.Second

// RunEventBus is the contract of ports.EventPublisher together with
// ports.EventSubscriber. newBus returns a publisher and a subscriber of one
// fresh bus (isolated from every other call), cleaned up through t.
//
// To show that something is NOT delivered, the suite publishes a later marker
// event on the same subscription and waits for it: per-subscription order
// means the unwanted event would have come first.
func RunEventBus(t *testing.T, newBus func(t *testing.T) (ports.EventPublisher, ports.EventSubscriber)) {
	t.Helper()

	t.Run("PublishSubscribeChat", func(t *testing.T) {
		t.Parallel()
		pub, sub := newBus(t)
		ctx := busContext(t)
		rec := busSubscribeChat(t, sub, 11)

		want := busChatEvent(11, ports.EventMessageCreated)
		want.Data = json.RawMessage(`{"id":42,"content":"hello \u00e9 <b>"}`)
		busPublish(t, ctx, pub, want)

		got := rec.waitFor(t, "the published event", func(es []ports.Event) bool { return len(es) >= 1 })
		if len(got) != 1 {
			t.Fatalf("got %d events, want 1", len(got))
		}
		busAssertSameEvent(t, got[0], want)
	})

	t.Run("PublishSubscribeUser", func(t *testing.T) {
		t.Parallel()
		pub, sub := newBus(t)
		ctx := busContext(t)
		rec := busSubscribeUser(t, sub, 21)

		want := busUserEvent(21, ports.EventChatMemberAdded)
		busPublish(t, ctx, pub, want)

		got := rec.waitFor(t, "the published event", func(es []ports.Event) bool { return len(es) >= 1 })
		if len(got) != 1 {
			t.Fatalf("got %d events, want 1", len(got))
		}
		busAssertSameEvent(t, got[0], want)
	})

	t.Run("PerChatOrder", func(t *testing.T) {
		t.Parallel()
		pub, sub := newBus(t)
		ctx := busContext(t)
		recA := busSubscribeChat(t, sub, 31)
		recB := busSubscribeChat(t, sub, 32)

		const n = 200
		var wantA, wantB []string
		for i := 0; i < n; i++ {
			a := busChatEvent(31, ports.EventMessageCreated)
			busPublish(t, ctx, pub, a)
			wantA = append(wantA, a.ID)
			if i%3 == 0 {
				b := busChatEvent(32, ports.EventMessageUpdated)
				busPublish(t, ctx, pub, b)
				wantB = append(wantB, b.ID)
			}
		}

		gotA := recA.waitFor(t, "every event of chat A", func(es []ports.Event) bool { return len(es) >= len(wantA) })
		gotB := recB.waitFor(t, "every event of chat B", func(es []ports.Event) bool { return len(es) >= len(wantB) })
		busAssertIDs(t, "chat A", gotA, wantA)
		busAssertIDs(t, "chat B", gotB, wantB)
	})

	t.Run("DedupeByID", func(t *testing.T) {
		t.Parallel()
		pub, sub := newBus(t)
		ctx := busContext(t)
		rec := busSubscribeChat(t, sub, 41)

		first := busChatEvent(41, ports.EventMessageCreated)
		busPublish(t, ctx, pub, first)
		busPublish(t, ctx, pub, first) // a relay retry
		second := busChatEvent(41, ports.EventMessageCreated)
		busPublish(t, ctx, pub, second)
		busPublish(t, ctx, pub, first) // a late retry after a newer event
		marker := busChatEvent(41, ports.EventMessageUpdated)
		busPublish(t, ctx, pub, marker)

		got := rec.waitFor(t, "the marker", busHasID(marker.ID))
		busAssertIDs(t, "chat", got, []string{first.ID, second.ID, marker.ID})
	})

	t.Run("UnsubscribeStopsDelivery", func(t *testing.T) {
		t.Parallel()
		pub, sub := newBus(t)
		ctx := busContext(t)
		gone := busSubscribeChat(t, sub, 51)
		stays := busSubscribeChat(t, sub, 51)

		before := busChatEvent(51, ports.EventMessageCreated)
		busPublish(t, ctx, pub, before)
		gone.waitFor(t, "the event before unsubscribing", busHasID(before.ID))

		if err := gone.sub.Unsubscribe(); err != nil {
			t.Fatalf("Unsubscribe: %v", err)
		}
		if err := gone.sub.Unsubscribe(); err != nil {
			t.Fatalf("second Unsubscribe: %v, want nil (no-op)", err)
		}

		after := busChatEvent(51, ports.EventMessageCreated)
		busPublish(t, ctx, pub, after)
		marker := busChatEvent(51, ports.EventMessageUpdated)
		busPublish(t, ctx, pub, marker)

		// The subscription that stayed sees everything, so the bus did
		// deliver the later events; the one that left sees none of them.
		got := stays.waitFor(t, "the marker", busHasID(marker.ID))
		busAssertIDs(t, "remaining subscription", got, []string{before.ID, after.ID, marker.ID})
		busAssertIDs(t, "unsubscribed subscription", gone.events(), []string{before.ID})
	})

	t.Run("ChatIsolation", func(t *testing.T) {
		t.Parallel()
		pub, sub := newBus(t)
		ctx := busContext(t)
		rec := busSubscribeChat(t, sub, 7)

		// Other chats, including ids that share a prefix with 7, and a user
		// whose id equals the chat id.
		busPublish(t, ctx, pub, busChatEvent(77, ports.EventMessageCreated))
		busPublish(t, ctx, pub, busChatEvent(70, ports.EventMessageCreated))
		busPublish(t, ctx, pub, busChatEvent(17, ports.EventMessageCreated))
		busPublish(t, ctx, pub, busUserEvent(7, ports.EventChatMemberAdded))
		marker := busChatEvent(7, ports.EventChatUpdated)
		busPublish(t, ctx, pub, marker)

		got := rec.waitFor(t, "the marker", busHasID(marker.ID))
		busAssertIDs(t, "chat 7", got, []string{marker.ID})
	})

	t.Run("UserIsolation", func(t *testing.T) {
		t.Parallel()
		pub, sub := newBus(t)
		ctx := busContext(t)
		rec := busSubscribeUser(t, sub, 8)

		busPublish(t, ctx, pub, busUserEvent(88, ports.EventChatMemberAdded))
		busPublish(t, ctx, pub, busChatEvent(8, ports.EventMessageCreated))
		marker := busUserEvent(8, ports.EventChatMemberRemoved)
		busPublish(t, ctx, pub, marker)

		got := rec.waitFor(t, "the marker", busHasID(marker.ID))
		busAssertIDs(t, "user 8", got, []string{marker.ID})
	})
}

// busRecorder collects what a subscription's handler receives.
type busRecorder struct {
	sub     ports.Subscription
	mu      sync.Mutex
	got     []ports.Event
	changed chan struct{} // receives a value after each append
}

func (r *busRecorder) handle(e ports.Event) {
	r.mu.Lock()
	r.got = append(r.got, e)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *busRecorder) events() []ports.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ports.Event(nil), r.got...)
}

// waitFor waits until cond holds for the events received so far and returns
// them; it fails the test after busWait.
func (r *busRecorder) waitFor(t *testing.T, what string, cond func([]ports.Event) bool) []ports.Event {
	t.Helper()
	deadline := time.NewTimer(busWait)
	defer deadline.Stop()
	for {
		got := r.events()
		if cond(got) {
			return got
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s; received %d events: %v", busWait, what, len(got), busIDs(got))
		}
	}
}

func busSubscribeChat(t *testing.T, sub ports.EventSubscriber, chatID int64) *busRecorder {
	t.Helper()
	r := &busRecorder{changed: make(chan struct{}, 1)}
	s, err := sub.SubscribeChat(busContext(t), chatID, r.handle)
	if err != nil {
		t.Fatalf("SubscribeChat(%d): %v", chatID, err)
	}
	r.sub = s
	t.Cleanup(func() { _ = s.Unsubscribe() })
	return r
}

func busSubscribeUser(t *testing.T, sub ports.EventSubscriber, userID int64) *busRecorder {
	t.Helper()
	r := &busRecorder{changed: make(chan struct{}, 1)}
	s, err := sub.SubscribeUser(busContext(t), userID, r.handle)
	if err != nil {
		t.Fatalf("SubscribeUser(%d): %v", userID, err)
	}
	r.sub = s
	t.Cleanup(func() { _ = s.Unsubscribe() })
	return r
}

func busPublish(t *testing.T, ctx context.Context, pub ports.EventPublisher, e ports.Event) {
	t.Helper()
	if err := pub.Publish(ctx, e); err != nil {
		t.Fatalf("Publish(%s %s): %v", e.ID, e.Type, err)
	}
}

func busContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), busWait)
	t.Cleanup(cancel)
	return ctx
}

func busChatEvent(chatID int64, typ string) ports.Event {
	return ports.Event{
		ID:          busEventID(),
		Type:        typ,
		Version:     ports.EventVersion,
		OccurredAt:  time.Now().UTC().Truncate(time.Microsecond),
		WorkspaceID: 1,
		ChatID:      chatID,
		Data:        json.RawMessage(fmt.Sprintf(`{"chat_id":%d}`, chatID)),
	}
}

func busUserEvent(userID int64, typ string) ports.Event {
	return ports.Event{
		ID:          busEventID(),
		Type:        typ,
		Version:     ports.EventVersion,
		OccurredAt:  time.Now().UTC().Truncate(time.Microsecond),
		WorkspaceID: 1,
		UserID:      userID,
		Data:        json.RawMessage(fmt.Sprintf(`{"user_id":%d}`, userID)),
	}
}

func busEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func busHasID(id string) func([]ports.Event) bool {
	return func(es []ports.Event) bool {
		for _, e := range es {
			if e.ID == id {
				return true
			}
		}
		return false
	}
}

func busIDs(es []ports.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func busAssertIDs(t *testing.T, what string, got []ports.Event, want []string) {
	t.Helper()
	g := busIDs(got)
	if len(g) != len(want) {
		t.Fatalf("%s: got %d events %v, want %d %v", what, len(g), g, len(want), want)
	}
	for i := range want {
		if g[i] != want[i] {
			t.Fatalf("%s: event %d is %s, want %s (got %v, want %v)", what, i, g[i], want[i], g, want)
		}
	}
}

func busAssertSameEvent(t *testing.T, got, want ports.Event) {
	t.Helper()
	if got.ID != want.ID || got.Type != want.Type || got.Version != want.Version ||
		got.WorkspaceID != want.WorkspaceID || got.ChatID != want.ChatID || got.UserID != want.UserID {
		t.Fatalf("got event %+v, want %+v", got, want)
	}
	if !got.OccurredAt.Equal(want.OccurredAt) {
		t.Fatalf("OccurredAt = %v, want %v", got.OccurredAt, want.OccurredAt)
	}
	if !busSameJSON(got.Data, want.Data) {
		t.Fatalf("Data = %s, want %s", got.Data, want.Data)
	}
}

// busSameJSON reports whether two JSON documents have the same value, so an
// adapter may re-encode Data (whitespace, escapes) but not change it.
func busSameJSON(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}
