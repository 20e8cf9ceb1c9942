package event_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports"
)

// The names here start with ix so as not to meet relay_test.go's.

const ixWait = 10 * time.Second

// ixSource is an EventBatchSource in memory with the redelivery rules of a
// JetStream consumer: what is not acked stays pending; Nak puts it back in
// stream order.
type ixSource struct {
	mu       sync.Mutex
	wake     chan struct{} // closed and replaced on every change
	seq      int64
	queue    []*ixDelivery // undelivered, in stream order
	inFlight map[*ixDelivery]bool
	acked    []string
	naked    []string
	termed   []string
	fetches  int
	fetchErr int // the next n Fetch calls fail
}

type ixDelivery struct {
	src *ixSource
	seq int64
	ev  ports.Event
}

func newIxSource() *ixSource {
	return &ixSource{wake: make(chan struct{}), inFlight: map[*ixDelivery]bool{}}
}

// changedLocked wakes the fetches waiting for a change; s.mu is held.
func (s *ixSource) changedLocked() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// publish appends events to the stream, all at once.
func (s *ixSource) publish(events ...ports.Event) {
	s.mu.Lock()
	for _, e := range events {
		s.seq++
		s.queue = append(s.queue, &ixDelivery{src: s, seq: s.seq, ev: e})
	}
	s.changedLocked()
	s.mu.Unlock()
}

func (s *ixSource) Fetch(ctx context.Context, limit int, wait time.Duration) ([]event.DeliveredEvent, error) {
	s.mu.Lock()
	s.fetches++
	if s.fetchErr > 0 {
		s.fetchErr--
		s.mu.Unlock()
		return nil, errors.New("fake fetch failure")
	}
	s.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.queue) >= limit {
			out := s.take(limit)
			s.mu.Unlock()
			return out, nil
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.take(limit), nil
		case <-wake:
		}
	}
}

func (s *ixSource) take(limit int) []event.DeliveredEvent {
	n := min(limit, len(s.queue))
	out := make([]event.DeliveredEvent, n)
	for i, d := range s.queue[:n] {
		s.inFlight[d] = true
		out[i] = d
	}
	s.queue = s.queue[n:]
	return out
}

func (d *ixDelivery) Event() ports.Event { return d.ev }

func (d *ixDelivery) settle(list *[]string) {
	s := d.src
	s.mu.Lock()
	if s.inFlight[d] {
		delete(s.inFlight, d)
		*list = append(*list, d.ev.ID)
		s.changedLocked()
	}
	s.mu.Unlock()
}

func (d *ixDelivery) Ack() error  { d.settle(&d.src.acked); return nil }
func (d *ixDelivery) Term() error { d.settle(&d.src.termed); return nil }

func (d *ixDelivery) Nak(time.Duration) error {
	s := d.src
	s.mu.Lock()
	if s.inFlight[d] {
		delete(s.inFlight, d)
		s.naked = append(s.naked, d.ev.ID)
		s.queue = append(s.queue, d)
		slices.SortFunc(s.queue, func(a, b *ixDelivery) int { return cmp.Compare(a.seq, b.seq) })
		s.changedLocked()
	}
	s.mu.Unlock()
	return nil
}

func (s *ixSource) counts() (acked, naked, termed, pending int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acked), len(s.naked), len(s.termed), len(s.queue) + len(s.inFlight)
}

// ixIndex is a SearchIndex in memory that can be made to fail and records
// the size of every write.
type ixIndex struct {
	mu      sync.Mutex
	docs    map[int64]ports.SearchDocument
	failing bool
	calls   []ixCall
}

type ixCall struct {
	op  string // "upsert" or "delete"
	n   int
	at  time.Time
	err bool
}

func newIxIndex() *ixIndex { return &ixIndex{docs: map[int64]ports.SearchDocument{}} }

func (x *ixIndex) setFailing(f bool) {
	x.mu.Lock()
	x.failing = f
	x.mu.Unlock()
}

func (x *ixIndex) record(op string, n int) error {
	x.calls = append(x.calls, ixCall{op: op, n: n, at: time.Now(), err: x.failing})
	if x.failing {
		return errors.New("index down")
	}
	return nil
}

func (x *ixIndex) Upsert(_ context.Context, docs []ports.SearchDocument) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.record("upsert", len(docs)); err != nil {
		return err
	}
	for _, d := range docs {
		x.docs[d.ID] = d
	}
	return nil
}

func (x *ixIndex) Delete(_ context.Context, ids []int64) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.record("delete", len(ids)); err != nil {
		return err
	}
	for _, id := range ids {
		delete(x.docs, id)
	}
	return nil
}

func (x *ixIndex) Search(context.Context, ports.SearchQuery) (ports.SearchResult, error) {
	return ports.SearchResult{}, errors.New("not used")
}

func (x *ixIndex) Ping(context.Context) error { return nil }

func (x *ixIndex) doc(id int64) (ports.SearchDocument, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	d, ok := x.docs[id]
	return d, ok
}

func (x *ixIndex) writes() []ixCall {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.calls)
}

func ixEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ixWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", ixWait, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func ixRun(t *testing.T, src *ixSource, idx *ixIndex, opts event.IndexerOptions) (*event.Indexer, context.CancelFunc) {
	t.Helper()
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 5*time.Millisecond, 40*time.Millisecond
	}
	ix, err := event.NewIndexer(src, idx, nil, opts)
	if err != nil {
		t.Fatalf("NewIndexer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ix.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(ixWait):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return ix, stop
}

var ixIDs atomic.Int64

var ixBase = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// ixMessage is a new message of chat 7.
func ixMessage(content string) query.Message {
	id := ixIDs.Add(1)
	return query.Message{ID: id, ChatID: 7, Seq: id, SenderID: 3, Content: content, CreatedAt: ixBase.Add(time.Duration(id) * time.Second)}
}

func ixEvent(typ string, data any) ports.Event {
	b, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	n := ixIDs.Add(1)
	return ports.Event{ID: fmt.Sprintf("ev-%d", n), Type: typ, Version: ports.EventVersion,
		OccurredAt: ixBase.Add(time.Duration(n) * time.Second), WorkspaceID: 1, ChatID: 7, Data: b}
}

func ixCreated(m query.Message) ports.Event { return ixEvent(ports.EventMessageCreated, m) }

func ixEdited(m query.Message, content string, at time.Time) (query.Message, ports.Event) {
	m.Content = content
	m.EditedAt = &at
	return m, ixEvent(ports.EventMessageUpdated, m)
}

func ixDeleted(m query.Message) ports.Event {
	return ixEvent(ports.EventMessageDeleted, command.MessageDeletedEvent{ChatID: m.ChatID, ID: m.ID, Seq: m.Seq})
}

func TestIndexerBatchesBySize(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	var events []ports.Event
	for i := range 25 {
		events = append(events, ixCreated(ixMessage(fmt.Sprintf("message %d", i))))
	}
	start := time.Now()
	src.publish(events...)
	ixRun(t, src, idx, event.IndexerOptions{BatchSize: 10, MaxBatch: 10, BatchTimeout: time.Minute})

	ixEventually(t, "two full batches", func() bool { return len(idx.writes()) >= 2 })
	w := idx.writes()
	if w[0].n != 10 || w[1].n != 10 || w[0].op != "upsert" {
		t.Errorf("writes %+v, want two upserts of 10", w[:2])
	}
	if took := w[1].at.Sub(start); took > 5*time.Second {
		t.Errorf("full batches waited %s: a full batch must not wait for the timeout", took)
	}
	ixEventually(t, "20 acks", func() bool { a, _, _, _ := src.counts(); return a == 20 })
	if a, _, _, _ := src.counts(); a != 20 {
		t.Errorf("acked %d, want exactly the 20 indexed", a)
	}
}

// With a backlog (more than BatchSize pending), a ready batch takes
// everything pending up to MaxBatch: the index writes one large batch, not
// one per BatchSize events.
func TestIndexerTakesTheBacklogUpToMaxBatch(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	var events []ports.Event
	for i := range 250 {
		events = append(events, ixCreated(ixMessage(fmt.Sprintf("message %d", i))))
	}
	src.publish(events...)
	ixRun(t, src, idx, event.IndexerOptions{BatchSize: 10, MaxBatch: 200, BatchTimeout: time.Minute})
	ixEventually(t, "250 acks", func() bool { a, _, _, _ := src.counts(); return a == 250 })
	w := idx.writes()
	if len(w) != 2 || w[0].n != 200 || w[1].n != 50 {
		t.Errorf("writes %+v, want a batch of 200 (MaxBatch) and one of the 50 left", w)
	}
}

// Under load (a batch that filled), writes are at least MinInterval apart:
// what arrives meanwhile joins the batch.
func TestIndexerSpacesWritesUnderLoad(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	ixRun(t, src, idx, event.IndexerOptions{BatchSize: 10, MaxBatch: 1000, MinInterval: 300 * time.Millisecond, BatchTimeout: time.Minute})
	burst := func(n int) {
		var events []ports.Event
		for i := range n {
			events = append(events, ixCreated(ixMessage(fmt.Sprintf("message %d", i))))
		}
		src.publish(events...)
	}
	burst(10)
	ixEventually(t, "the first write", func() bool { return len(idx.writes()) == 1 })
	burst(10)
	burst(15)
	ixEventually(t, "35 acks", func() bool { a, _, _, _ := src.counts(); return a == 35 })
	if w := idx.writes(); len(w) != 2 || w[1].n != 25 {
		t.Fatalf("writes %+v, want 10 then the 25 that came within MinInterval in one", w)
	}
}

func TestIndexerBatchesByTimeout(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	const timeout = 300 * time.Millisecond
	ixRun(t, src, idx, event.IndexerOptions{BatchSize: 10, BatchTimeout: timeout})
	ixEventually(t, "the first fetch", func() bool { src.mu.Lock(); defer src.mu.Unlock(); return src.fetches > 0 })

	start := time.Now()
	src.publish(ixCreated(ixMessage("one")), ixCreated(ixMessage("two")), ixCreated(ixMessage("three")))
	ixEventually(t, "a write", func() bool { return len(idx.writes()) > 0 })
	w := idx.writes()
	if w[0].n != 3 {
		t.Errorf("first write %+v, want the 3 events in one batch", w[0])
	}
	if took := w[0].at.Sub(start); took > timeout+2*time.Second {
		t.Errorf("a partial batch took %s, want about the %s timeout", took, timeout)
	}
	ixEventually(t, "3 acks", func() bool { a, _, _, _ := src.counts(); return a == 3 })
}

func TestIndexerFailingIndexLosesNothing(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	idx.setFailing(true)
	ixRun(t, src, idx, event.IndexerOptions{BatchSize: 10, MaxBatch: 10, BatchTimeout: 50 * time.Millisecond})

	var msgs []query.Message
	var events []ports.Event
	for i := range 30 {
		m := ixMessage(fmt.Sprintf("text %d", i))
		msgs = append(msgs, m)
		events = append(events, ixCreated(m))
	}
	src.publish(events...)
	ixEventually(t, "several failed attempts", func() bool { return len(idx.writes()) >= 4 })
	if a, _, _, pending := src.counts(); a != 0 || pending != 30 {
		t.Fatalf("with the index down: %d acked, %d pending; want 0 acked, all 30 pending", a, pending)
	}
	for _, c := range idx.writes() {
		if c.n != 10 {
			t.Errorf("retried write of %d documents, want the same batch of 10", c.n)
		}
	}

	// More arrive while the index is down; then it comes back.
	late := ixMessage("late one")
	msgs = append(msgs, late)
	src.publish(ixCreated(late))
	idx.setFailing(false)
	ixEventually(t, "the backlog to drain", func() bool { a, _, _, _ := src.counts(); return a == 31 })
	for _, m := range msgs {
		d, ok := idx.doc(m.ID)
		if !ok || d.Content != m.Content || d.ChatID != m.ChatID || d.Seq != m.Seq || d.WorkspaceID != 1 || d.SenderID != m.SenderID || !d.CreatedAt.Equal(m.CreatedAt) {
			t.Errorf("message %d: indexed %+v (found %v), want %+v", m.ID, d, ok, m)
		}
	}
}

func TestIndexerDeleteAfterCreate(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	ixRun(t, src, idx, event.IndexerOptions{BatchSize: 10, BatchTimeout: 30 * time.Millisecond})

	same := ixMessage("created and deleted in one batch")
	later := ixMessage("deleted in a later batch")
	src.publish(ixCreated(same), ixDeleted(same), ixCreated(later))
	ixEventually(t, "3 acks", func() bool { a, _, _, _ := src.counts(); return a == 3 })
	if _, ok := idx.doc(same.ID); ok {
		t.Errorf("message %d deleted in the same batch is indexed", same.ID)
	}
	if _, ok := idx.doc(later.ID); !ok {
		t.Fatalf("message %d not indexed", later.ID)
	}
	src.publish(ixDeleted(later))
	ixEventually(t, "the delete", func() bool { _, ok := idx.doc(later.ID); return !ok })
}

func TestIndexerEditReplacesText(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	ixRun(t, src, idx, event.IndexerOptions{BatchSize: 10, BatchTimeout: 30 * time.Millisecond})

	m := ixMessage("apple")
	src.publish(ixCreated(m))
	ixEventually(t, "the create", func() bool { d, ok := idx.doc(m.ID); return ok && d.Content == "apple" })
	_, ev := ixEdited(m, "banana", m.CreatedAt.Add(time.Minute))
	src.publish(ev)
	ixEventually(t, "the edit", func() bool { d, _ := idx.doc(m.ID); return d.Content == "banana" })
	if d, _ := idx.doc(m.ID); !d.CreatedAt.Equal(m.CreatedAt) || d.Seq != m.Seq {
		t.Errorf("edited document %+v lost its created_at or seq", d)
	}
}

func TestIndexerStaleRedeliveryDoesNotUndoLaterChanges(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	ixRun(t, src, idx, event.IndexerOptions{BatchSize: 10, BatchTimeout: 30 * time.Millisecond})

	gone := ixMessage("deleted for good")
	kept := ixMessage("first text")
	createGone, createKept := ixCreated(gone), ixCreated(kept)
	_, edit1 := ixEdited(kept, "second text", kept.CreatedAt.Add(time.Minute))
	_, edit2 := ixEdited(kept, "third text", kept.CreatedAt.Add(2*time.Minute))
	src.publish(createGone, ixDeleted(gone), createKept, edit1, edit2)
	ixEventually(t, "5 acks", func() bool { a, _, _, _ := src.counts(); return a == 5 })

	// Late copies of older events, in separate batches, as after a nak or
	// an expired ack wait.
	src.publish(createGone)
	ixEventually(t, "6 acks", func() bool { a, _, _, _ := src.counts(); return a == 6 })
	src.publish(edit1, createKept)
	ixEventually(t, "8 acks", func() bool { a, _, _, _ := src.counts(); return a == 8 })
	_, updateGone := ixEdited(gone, "edited after delete?", gone.CreatedAt.Add(time.Hour))
	src.publish(updateGone)
	ixEventually(t, "9 acks", func() bool { a, _, _, _ := src.counts(); return a == 9 })

	if d, ok := idx.doc(gone.ID); ok {
		t.Errorf("deleted message resurrected: %+v", d)
	}
	if d, _ := idx.doc(kept.ID); d.Content != "third text" {
		t.Errorf("message %d holds %q, want the newest edit", kept.ID, d.Content)
	}
	// The same edit delivered twice is applied again, harmlessly.
	src.publish(edit2)
	ixEventually(t, "10 acks", func() bool { a, _, _, _ := src.counts(); return a == 10 })
	if d, _ := idx.doc(kept.ID); d.Content != "third text" {
		t.Errorf("after a duplicate: %q", d.Content)
	}
}

func TestIndexerDeletedAtInUpdateDeletes(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	ixRun(t, src, idx, event.IndexerOptions{BatchSize: 10, BatchTimeout: 30 * time.Millisecond})
	m := ixMessage("soon gone")
	src.publish(ixCreated(m))
	ixEventually(t, "the create", func() bool { _, ok := idx.doc(m.ID); return ok })
	at := m.CreatedAt.Add(time.Minute)
	m.DeletedAt = &at
	src.publish(ixEvent(ports.EventMessageUpdated, m))
	ixEventually(t, "the delete", func() bool { _, ok := idx.doc(m.ID); return !ok })
}

func TestIndexerTerminatesWhatDoesNotDecode(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	ixRun(t, src, idx, event.IndexerOptions{BatchSize: 10, BatchTimeout: 30 * time.Millisecond})
	good := ixMessage("fine")
	bad := ports.Event{ID: "bad-json", Type: ports.EventMessageCreated, ChatID: 7, Data: json.RawMessage(`{"id":`)}
	noID := ports.Event{ID: "no-id", Type: ports.EventMessageDeleted, ChatID: 7, Data: json.RawMessage(`{}`)}
	other := ixEvent(ports.EventChatUpdated, map[string]any{"id": 7})
	src.publish(bad, ixCreated(good), noID, other)
	ixEventually(t, "everything settled", func() bool { _, _, _, pending := src.counts(); return pending == 0 })
	acked, _, termed, _ := src.counts()
	if acked != 2 || termed != 2 {
		t.Errorf("acked %d, terminated %d; want 2 acked (the message and the foreign event), 2 terminated", acked, termed)
	}
	if _, ok := idx.doc(good.ID); !ok {
		t.Errorf("the good message was not indexed")
	}
}

type ixClock struct{ now time.Time }

func (c ixClock) Now() time.Time { return c.now }

func TestIndexerReportsLag(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	m1, m2 := ixMessage("one"), ixMessage("two")
	now := m2.CreatedAt.Add(1500 * time.Millisecond)
	var mu sync.Mutex
	var lags []time.Duration
	ix, _ := ixRun(t, src, idx, event.IndexerOptions{BatchSize: 2, BatchTimeout: time.Minute, Clock: ixClock{now},
		OnLag: func(d time.Duration) { mu.Lock(); lags = append(lags, d); mu.Unlock() }})
	src.publish(ixCreated(m1), ixCreated(m2))
	ixEventually(t, "2 lags", func() bool { mu.Lock(); defer mu.Unlock(); return len(lags) == 2 })
	want := []time.Duration{now.Sub(m1.CreatedAt), now.Sub(m2.CreatedAt)}
	mu.Lock()
	if !slices.Equal(lags, want) {
		t.Errorf("lags %v, want %v (now - created_at)", lags, want)
	}
	mu.Unlock()
	if got := ix.LastLag(); got != want[0] {
		t.Errorf("LastLag = %s, want the batch's largest, %s", got, want[0])
	}
}

func TestIndexerNaksWhenStopped(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	idx.setFailing(true)
	_, stop := ixRun(t, src, idx, event.IndexerOptions{BatchSize: 5, BatchTimeout: 20 * time.Millisecond})
	for range 5 {
		src.publish(ixCreated(ixMessage("x")))
	}
	ixEventually(t, "a failed write", func() bool { return len(idx.writes()) > 0 })
	stop()
	acked, naked, _, pending := src.counts()
	if acked != 0 || naked != 5 || pending != 5 {
		t.Errorf("after stop: %d acked, %d nak'd, %d pending; want 0, 5, 5", acked, naked, pending)
	}
}

func TestIndexerRetriesFetchFailures(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	src.fetchErr = 3
	m := ixMessage("after the outage")
	src.publish(ixCreated(m))
	ixRun(t, src, idx, event.IndexerOptions{BatchSize: 10, BatchTimeout: 20 * time.Millisecond})
	ixEventually(t, "the message indexed", func() bool { _, ok := idx.doc(m.ID); return ok })
}

func TestNewIndexerRefusesNilDependencies(t *testing.T) {
	if _, err := event.NewIndexer(nil, newIxIndex(), nil, event.IndexerOptions{}); err == nil {
		t.Error("nil source accepted")
	}
	if _, err := event.NewIndexer(newIxSource(), nil, nil, event.IndexerOptions{}); err == nil {
		t.Error("nil index accepted")
	}
}
