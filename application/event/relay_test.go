package event_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

const waitLimit = 10 * time.Second

// changes is signalled by the fakes after every change of their state, so
// tests wait for conditions instead of sleeping.
type changes chan struct{}

func (c changes) signal() {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (c changes) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-c:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", waitLimit, what)
		}
	}
}

// fakeOutbox is an in-memory ports.OutboxStore with injectable failures.
type fakeOutbox struct {
	changed changes
	notify  chan struct{} // nil: never signals, the relay must poll

	mu          sync.Mutex
	entries     []ports.OutboxEntry
	next        int64
	pendingErrs int // the next n Pending calls fail
	removeErrs  int // the next n Remove calls fail
}

func newFakeOutbox(changed changes, withNotify bool) *fakeOutbox {
	s := &fakeOutbox{changed: changed}
	if withNotify {
		s.notify = make(chan struct{}, 1)
	}
	return s
}

func (s *fakeOutbox) add(events ...ports.Event) {
	s.mu.Lock()
	for _, e := range events {
		s.next++
		s.entries = append(s.entries, ports.OutboxEntry{Position: s.next, Event: e})
	}
	s.mu.Unlock()
	if s.notify != nil {
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	s.changed.signal()
}

func (s *fakeOutbox) Pending(ctx context.Context, limit int) ([]ports.OutboxEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.changed.signal()
	if s.pendingErrs > 0 {
		s.pendingErrs--
		return nil, errors.New("outbox unavailable")
	}
	n := min(limit, len(s.entries))
	return slices.Clone(s.entries[:n]), nil
}

func (s *fakeOutbox) Remove(ctx context.Context, positions []int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.changed.signal()
	if s.removeErrs > 0 {
		s.removeErrs--
		return errors.New("outbox unavailable")
	}
	s.entries = slices.DeleteFunc(s.entries, func(e ports.OutboxEntry) bool {
		return slices.Contains(positions, e.Position)
	})
	return nil
}

func (s *fakeOutbox) Notify() <-chan struct{} { return s.notify }

func (s *fakeOutbox) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.entries, func(e ports.OutboxEntry) bool { return e.Event.ID == id })
}

func (s *fakeOutbox) pendingIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.Event.ID
	}
	return out
}

func (s *fakeOutbox) empty() bool { return len(s.pendingIDs()) == 0 }

// fakeBus is a ports.EventPublisher that, like JetStream, stores an event id
// once; fail decides whether a publish is refused.
type fakeBus struct {
	changed changes
	outbox  *fakeOutbox // every published event must still be in it

	mu       sync.Mutex
	fail     func(e ports.Event) error
	attempts []string      // every Publish call, by event id
	stored   []ports.Event // accepted events without duplicates, in order
	problems []string
}

func (b *fakeBus) Publish(ctx context.Context, e ports.Event) error {
	inOutbox := b.outbox.has(e.ID)
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.changed.signal()
	b.attempts = append(b.attempts, e.ID)
	if !inOutbox {
		b.problems = append(b.problems, "published "+e.ID+" after it left the outbox")
	}
	if b.fail != nil {
		if err := b.fail(e); err != nil {
			return err
		}
	}
	if !slices.ContainsFunc(b.stored, func(s ports.Event) bool { return s.ID == e.ID }) {
		b.stored = append(b.stored, e)
	}
	return nil
}

func (b *fakeBus) setFail(f func(ports.Event) error) {
	b.mu.Lock()
	b.fail = f
	b.mu.Unlock()
}

func (b *fakeBus) storedIDs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, len(b.stored))
	for i, e := range b.stored {
		out[i] = e.ID
	}
	return out
}

func (b *fakeBus) attemptsOf(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, a := range b.attempts {
		if a == id {
			n++
		}
	}
	return n
}

func (b *fakeBus) check(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Error(p)
	}
}

type fixture struct {
	changed changes
	outbox  *fakeOutbox
	bus     *fakeBus
}

func newFixture(withNotify bool) *fixture {
	c := make(changes, 1)
	o := newFakeOutbox(c, withNotify)
	return &fixture{changed: c, outbox: o, bus: &fakeBus{changed: c, outbox: o}}
}

var fastRetry = event.RelayOptions{
	BatchSize:    10,
	PollInterval: time.Hour, // only Notify wakes the relay, unless a test says otherwise
	MinBackoff:   time.Millisecond,
	MaxBackoff:   5 * time.Millisecond,
}

// runRelay runs r until the test ends and checks that Run returns nil.
func runRelay(t *testing.T, r *event.OutboxRelay) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(waitLimit):
			t.Errorf("Run did not return after cancel")
		}
	})
}

func newRelay(t *testing.T, f *fixture, opts event.RelayOptions) *event.OutboxRelay {
	t.Helper()
	r, err := event.NewOutboxRelay(f.outbox, f.bus, nil, opts)
	if err != nil {
		t.Fatalf("NewOutboxRelay: %v", err)
	}
	return r
}

var eventSeq struct {
	sync.Mutex
	n int
}

func events(chatID int64, n int) []ports.Event {
	eventSeq.Lock()
	defer eventSeq.Unlock()
	out := make([]ports.Event, n)
	for i := range out {
		eventSeq.n++
		out[i] = ports.Event{
			ID:     fmt.Sprintf("ev-%d", eventSeq.n),
			Type:   ports.EventMessageCreated,
			ChatID: chatID,
		}
	}
	return out
}

func idsOf(es []ports.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func TestRelayPublishesInOrderOnNotify(t *testing.T) {
	t.Parallel()
	f := newFixture(true)
	runRelay(t, newRelay(t, f, fastRetry))

	want := events(1, 25) // several batches of 10
	f.outbox.add(want[:13]...)
	f.outbox.add(want[13:]...)

	f.changed.waitUntil(t, "an empty outbox", f.outbox.empty)
	if got := f.bus.storedIDs(); !slices.Equal(got, idsOf(want)) {
		t.Fatalf("published %v, want %v", got, idsOf(want))
	}
	f.bus.check(t)
}

func TestRelayPollsWithoutNotify(t *testing.T) {
	t.Parallel()
	f := newFixture(false)
	opts := fastRetry
	opts.PollInterval = 5 * time.Millisecond
	runRelay(t, newRelay(t, f, opts))

	want := events(1, 3)
	f.outbox.add(want...)

	f.changed.waitUntil(t, "an empty outbox", f.outbox.empty)
	if got := f.bus.storedIDs(); !slices.Equal(got, idsOf(want)) {
		t.Fatalf("published %v, want %v", got, idsOf(want))
	}
}

func TestRelayStopsAtFailureAndRetriesInOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(true)
	want := events(1, 5)
	f.bus.setFail(func(e ports.Event) error {
		if e.ID == want[2].ID {
			return errors.New("no ack")
		}
		return nil
	})
	runRelay(t, newRelay(t, f, fastRetry))
	f.outbox.add(want...)

	f.changed.waitUntil(t, "three attempts at the failing event", func() bool {
		return f.bus.attemptsOf(want[2].ID) >= 3
	})
	if got := f.bus.storedIDs(); !slices.Equal(got, idsOf(want[:2])) {
		t.Fatalf("while failing, published %v, want %v", got, idsOf(want[:2]))
	}
	if got := f.outbox.pendingIDs(); !slices.Equal(got, idsOf(want[2:])) {
		t.Fatalf("while failing, outbox holds %v, want %v", got, idsOf(want[2:]))
	}
	for _, e := range want[3:] {
		if n := f.bus.attemptsOf(e.ID); n != 0 {
			t.Fatalf("event %s after the failing one was attempted %d times", e.ID, n)
		}
	}

	f.bus.setFail(nil) // the bus is back
	f.changed.waitUntil(t, "an empty outbox", f.outbox.empty)
	if got := f.bus.storedIDs(); !slices.Equal(got, idsOf(want)) {
		t.Fatalf("published %v, want %v", got, idsOf(want))
	}
	for _, e := range want[:2] {
		if n := f.bus.attemptsOf(e.ID); n != 1 {
			t.Fatalf("acknowledged event %s was published %d times, want 1", e.ID, n)
		}
	}
	f.bus.check(t)
}

func TestRelayRepublishesWhenRemoveFails(t *testing.T) {
	t.Parallel()
	f := newFixture(true)
	f.outbox.removeErrs = 1
	runRelay(t, newRelay(t, f, fastRetry))

	want := events(1, 4)
	f.outbox.add(want...)

	f.changed.waitUntil(t, "an empty outbox", f.outbox.empty)
	if got := f.bus.storedIDs(); !slices.Equal(got, idsOf(want)) {
		t.Fatalf("published %v, want %v", got, idsOf(want))
	}
	for _, e := range want {
		if n := f.bus.attemptsOf(e.ID); n != 2 {
			t.Fatalf("event %s published %d times, want 2 (once more after the failed Remove)", e.ID, n)
		}
	}
	f.bus.check(t)
}

func TestRelayRetriesWhenPendingFails(t *testing.T) {
	t.Parallel()
	f := newFixture(true)
	f.outbox.pendingErrs = 3
	runRelay(t, newRelay(t, f, fastRetry))

	want := events(1, 2)
	f.outbox.add(want...)

	f.changed.waitUntil(t, "an empty outbox", f.outbox.empty)
	if got := f.bus.storedIDs(); !slices.Equal(got, idsOf(want)) {
		t.Fatalf("published %v, want %v", got, idsOf(want))
	}
}

func TestRelayFlush(t *testing.T) {
	t.Parallel()
	f := newFixture(true)
	r := newRelay(t, f, fastRetry)
	ctx := context.Background()

	want := events(1, 23)
	f.outbox.add(want...)
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if !f.outbox.empty() {
		t.Fatalf("after Flush the outbox holds %v", f.outbox.pendingIDs())
	}
	if got := f.bus.storedIDs(); !slices.Equal(got, idsOf(want)) {
		t.Fatalf("published %v, want %v", got, idsOf(want))
	}

	more := events(1, 3)
	f.outbox.add(more...)
	f.bus.setFail(func(e ports.Event) error {
		if e.ID == more[1].ID {
			return errors.New("no ack")
		}
		return nil
	})
	if err := r.Flush(ctx); err == nil {
		t.Fatal("Flush with a failing bus returned nil")
	}
	if got := f.outbox.pendingIDs(); !slices.Equal(got, idsOf(more[1:])) {
		t.Fatalf("after a failed Flush the outbox holds %v, want %v", got, idsOf(more[1:]))
	}
	f.bus.check(t)
}

func TestRelaysRunningTogetherKeepPerChatOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(false)
	opts := fastRetry
	opts.PollInterval = time.Millisecond
	opts.BatchSize = 7
	// Three relays on one outbox, as three server instances would be.
	for range 3 {
		runRelay(t, newRelay(t, f, opts))
	}

	var want []ports.Event
	for range 30 {
		for chat := int64(1); chat <= 3; chat++ {
			e := events(chat, 2)
			want = append(want, e...)
			f.outbox.add(e...)
		}
	}

	f.changed.waitUntil(t, "an empty outbox", f.outbox.empty)
	got := f.bus.storedIDs()
	if len(got) != len(want) {
		t.Fatalf("stored %d events, want %d", len(got), len(want))
	}
	for chat := int64(1); chat <= 3; chat++ {
		var wantChat, gotChat []string
		byID := map[string]int64{}
		for _, e := range want {
			byID[e.ID] = e.ChatID
			if e.ChatID == chat {
				wantChat = append(wantChat, e.ID)
			}
		}
		for _, id := range got {
			if byID[id] == chat {
				gotChat = append(gotChat, id)
			}
		}
		if !slices.Equal(gotChat, wantChat) {
			t.Fatalf("chat %d stored as %v, want %v", chat, gotChat, wantChat)
		}
	}
	// Copies published after an entry was removed by another relay are
	// expected here; what matters is the stored order above.
}

func TestRelayRunReturnsOnCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(true)
	f.bus.setFail(func(ports.Event) error { return errors.New("no ack") })
	r := newRelay(t, f, fastRetry)
	f.outbox.add(events(1, 1)...)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	f.changed.waitUntil(t, "a failed attempt", func() bool { return attempts(f.bus) > 0 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v, want nil", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after cancel")
	}
}

func attempts(b *fakeBus) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.attempts)
}

func TestNewOutboxRelayRefusesNilDependencies(t *testing.T) {
	t.Parallel()
	f := newFixture(true)
	if _, err := event.NewOutboxRelay(nil, f.bus, nil, event.RelayOptions{}); err == nil {
		t.Error("nil store accepted")
	}
	if _, err := event.NewOutboxRelay(f.outbox, nil, nil, event.RelayOptions{}); err == nil {
		t.Error("nil publisher accepted")
	}
}

func TestRelayDropsAnEventTheBusCanNeverTake(t *testing.T) {
	t.Parallel()
	f := newFixture(true)
	r := newRelay(t, f, fastRetry)
	want := events(1, 3)
	f.outbox.add(want...)
	f.bus.setFail(func(e ports.Event) error {
		if e.ID == want[1].ID {
			return errs.Invalidf("malformed event type")
		}
		return nil
	})
	if err := r.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if !f.outbox.empty() {
		t.Fatalf("outbox still holds %v: a malformed event blocks the ones after it", f.outbox.pendingIDs())
	}
	if got := f.bus.storedIDs(); !slices.Equal(got, []string{want[0].ID, want[2].ID}) {
		t.Fatalf("stored %v", got)
	}
	f.bus.check(t)
}
