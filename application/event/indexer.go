package event

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/ports"
)

// DeliveredEvent is an event handed out by an EventBatchSource. Settle it
// once: Ack when it is done with, Nak to have it delivered again, Term when
// it can never be handled.
type DeliveredEvent interface {
	Event() ports.Event
	// Ack tells the source the event is handled; it is not delivered again.
	Ack() error
	// Nak asks for the event again after delay.
	Nak(delay time.Duration) error
	// Term drops an event that can never be handled (it does not decode).
	Term() error
}

// EventBatchSource hands out events of a durable subscription (a JetStream
// pull consumer) in order. An event that is not acked in time, or is
// nak'd, is delivered again, so nothing is lost while a consumer fails.
type EventBatchSource interface {
	// Fetch returns as soon as max events are there, or when wait has
	// passed with what there is (maybe nothing).
	Fetch(ctx context.Context, max int, wait time.Duration) ([]DeliveredEvent, error)
}

// LagObserver receives the index lag of each message event when its batch
// is accepted by the index: the time since the change (created_at, edited_at,
// or the event's occurred_at for a delete). For metrics.
type LagObserver func(lag time.Duration)

// IndexerOptions tune an Indexer; zero values take the defaults.
type IndexerOptions struct {
	BatchSize int // events that make a batch ready (default 10)
	// MaxBatch bounds a batch when more than BatchSize are already pending
	// (a backlog: the index was busy writing): the ready batch then takes
	// everything pending up to MaxBatch, so that the index writes fewer,
	// larger batches as the rate grows (default 1000).
	MaxBatch int
	// MinInterval spaces index writes under load: a batch that filled up
	// keeps taking what arrives until MinInterval has passed since the
	// previous write (up to MaxBatch), so the index writes (and Bleve
	// merges) a few large segments a second rather than one per BatchSize
	// events. It never delays a batch that did not fill, so it does not
	// touch the lag at low rates (default 100ms; negative: off).
	MinInterval  time.Duration
	BatchTimeout time.Duration // longest wait to fill a batch (default 1s)
	MinBackoff   time.Duration // first wait after a failed batch (default 100ms)
	MaxBackoff   time.Duration // longest wait between retries (default 10s)
	// GuardSize is how many edits and deletes the indexer remembers to
	// refuse stale redeliveries (default 100000; two generations of it).
	GuardSize int
	OnLag     LagObserver // may be nil
	Clock     ports.Clock // for lag; nil means the system clock
}

func (o IndexerOptions) withDefaults() IndexerOptions {
	if o.BatchSize <= 0 {
		o.BatchSize = 10
	}
	if o.BatchTimeout <= 0 {
		o.BatchTimeout = time.Second
	}
	if o.MaxBatch < o.BatchSize {
		o.MaxBatch = max(1000, o.BatchSize)
	}
	if o.MinInterval == 0 {
		o.MinInterval = 100 * time.Millisecond
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.GuardSize <= 0 {
		o.GuardSize = 100_000
	}
	return o
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Indexer keeps the search index in step with messages: it consumes
// message.created, message.updated and message.deleted events (and
// message.reindex, after a rename, with a DocumentLoader) and writes
// them to the index in batches of BatchSize events, or whatever arrived
// within BatchTimeout, whichever comes first.
//
// A batch is acked only after the index accepted it. When the index fails,
// the indexer keeps the batch unacked and retries it, in order, with
// exponential backoff, fetching nothing new meanwhile; the backlog waits in
// the stream and drains when the index is back. Writes are idempotent
// (document id = message id), so redeliveries are harmless, and a stale
// redelivery cannot undo a later change: an edit older than one already
// applied, or any upsert of a message seen deleted, is skipped (see guard).
// The index may still briefly hold a deleted message in rare cases (the
// delete handled by another instance before a late create); search results
// are therefore re-checked against Postgres by the query.
type Indexer struct {
	src   EventBatchSource
	index ports.SearchIndex
	docs  DocumentLoader // nil: documents from the event data alone
	log   *zap.Logger
	opts  IndexerOptions
	guard *guard

	lastLag   atomic.Int64 // largest lag of the last accepted batch, in ns
	lastWrite time.Time    // when the last batch was accepted (Run's goroutine only)
}

// NewIndexer returns an indexer from src to index. A nil log discards logs.
func NewIndexer(src EventBatchSource, index ports.SearchIndex, log *zap.Logger, opts IndexerOptions) (*Indexer, error) {
	if src == nil {
		return nil, errors.New("search indexer: nil EventBatchSource")
	}
	if index == nil {
		return nil, errors.New("search indexer: nil SearchIndex")
	}
	if log == nil {
		log = zap.NewNop()
	}
	opts = opts.withDefaults()
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	return &Indexer{src: src, index: index, log: log, opts: opts, guard: newGuard(opts.GuardSize)}, nil
}

// DocumentLoader builds search documents from the source of truth: the
// content, the attachments' file names and the mentioned users' names
// (ports.SearchDocument), as they are now.
type DocumentLoader interface {
	// SearchDocumentsByID returns the documents of the live messages among
	// ids, in any order; deleted and unknown ids are left out.
	SearchDocumentsByID(ctx context.Context, ids []int64) ([]ports.SearchDocument, error)
	// MessagesMentioning returns the ids of the live messages of chatID
	// that mention userID, for message.reindex after a rename.
	MessagesMentioning(ctx context.Context, chatID, userID int64) ([]int64, error)
}

// reindexChunk bounds the documents loaded and written at once when a
// rename asks for a chat's mentions of a user again.
const reindexChunk = 500

// WithDocuments makes the indexer write the documents docs builds for the
// messages a batch created or changed, rather than the events' data alone:
// events carry neither the mentioned users' names nor, for an edit, the
// attachments. An edit (which recomputes the mentions) is therefore indexed
// with its names as stored, and a message docs no longer finds live (deleted
// since) is removed. It costs one read per batch; a failed read is retried
// like a failed index write.
func (ix *Indexer) WithDocuments(docs DocumentLoader) *Indexer {
	ix.docs = docs
	return ix
}

// LastLag is the largest index lag of the last batch accepted (0 before
// the first), for health reports.
func (ix *Indexer) LastLag() time.Duration { return time.Duration(ix.lastLag.Load()) }

// Run indexes until ctx is done, then returns nil. Events fetched but not
// yet indexed are nak'd so that they are delivered again at once.
func (ix *Indexer) Run(ctx context.Context) error {
	b := newBackOff(ix.opts.MinBackoff, ix.opts.MaxBackoff)
	for {
		batch, _ := retryUntilDone(ctx, b, func() ([]DeliveredEvent, error) {
			batch, err := ix.collect(ctx)
			if err != nil && len(batch) == 0 && ctx.Err() == nil {
				return nil, err
			}
			return batch, nil
		}, func(err error, wait time.Duration) {
			ix.log.Warn("search indexer: fetch failed, retrying", zap.Error(err), zap.Duration("retry_in", wait))
		})
		if ctx.Err() != nil {
			nakAll(batch)
			return nil
		}
		if len(batch) == 0 {
			continue
		}
		if !ix.handle(ctx, batch) {
			return nil
		}
	}
}

// collect fetches until BatchSize events are there or BatchTimeout has
// passed; a batch that filled up takes whatever else is pending at once, up
// to MaxBatch.
func (ix *Indexer) collect(ctx context.Context) ([]DeliveredEvent, error) {
	batch, err := ix.fill(ctx)
	// A full batch takes what is pending, and under load (a write less
	// than MinInterval ago) what arrives until MinInterval has passed.
	for err == nil && len(batch) >= ix.opts.BatchSize && len(batch) < ix.opts.MaxBatch {
		wait := max(ix.opts.MinInterval-time.Since(ix.lastWrite), 0)
		var got []DeliveredEvent
		got, err = ix.src.Fetch(ctx, ix.opts.MaxBatch-len(batch), wait)
		batch = append(batch, got...)
		if len(got) == 0 && wait == 0 {
			break
		}
	}
	if err != nil && len(batch) > 0 && ctx.Err() == nil {
		err = nil // what was fetched is indexed; the next fetch reports again
	}
	return batch, err
}

// fill fetches until the batch has BatchSize events or BatchTimeout passed.
func (ix *Indexer) fill(ctx context.Context) ([]DeliveredEvent, error) {
	var batch []DeliveredEvent
	deadline := time.Now().Add(ix.opts.BatchTimeout)
	for len(batch) < ix.opts.BatchSize {
		wait := time.Until(deadline)
		if wait <= 0 {
			break
		}
		got, err := ix.src.Fetch(ctx, ix.opts.BatchSize-len(batch), wait)
		batch = append(batch, got...)
		if err != nil {
			return batch, err
		}
		if ctx.Err() != nil {
			return batch, ctx.Err()
		}
	}
	return batch, nil
}

// handle indexes one batch, retrying until the index accepts it, then acks
// it. It returns false if ctx ended first (the batch is nak'd).
func (ix *Indexer) handle(ctx context.Context, batch []DeliveredEvent) bool {
	p := ix.plan(batch)
	failures := 0
	_, err := retryUntilDone(ctx, newBackOff(ix.opts.MinBackoff, ix.opts.MaxBackoff),
		func() (struct{}, error) { return struct{}{}, ix.write(ctx, p) },
		func(err error, wait time.Duration) {
			failures++
			ix.log.Warn("search indexer: index write failed, retrying the batch",
				zap.Error(err), zap.Int("events", len(p.settle)), zap.Int("failures", failures), zap.Duration("retry_in", wait))
		})
	if err != nil { // only ctx's end stops the retries
		nakAll(p.settle)
		return false
	}
	if failures > 0 {
		ix.log.Info("search indexer: indexing again", zap.Int("failures", failures))
	}
	ix.accepted(p)
	ix.lastWrite = time.Now()
	return true
}

// plan is what one batch asks of the index.
type plan struct {
	upserts []ports.SearchDocument
	deletes []int64
	reindex []ports.MessagesReindexData // renames: mentions to index again
	settle  []DeliveredEvent            // acked once the writes succeed
	changed []time.Time                 // when each message event's change happened, for lag
}

// messageData is the part of a Message (the data of message.created and
// message.updated) the index needs.
type messageData struct {
	ID        int64      `json:"id"`
	ChatID    int64      `json:"chat_id"`
	Seq       int64      `json:"seq"`
	SenderID  int64      `json:"sender_id"`
	Content   string     `json:"content"`
	CreatedAt time.Time  `json:"created_at"`
	EditedAt  *time.Time `json:"edited_at"`
	DeletedAt *time.Time `json:"deleted_at"`
	// Attachments: message.created carries them, and message.updated when
	// the edit handler reads the message back (WithReads).
	Attachments []struct {
		Name string `json:"name"`
	} `json:"attachments"`
}

func fileNames(files []struct {
	Name string `json:"name"`
}) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

// plan folds a batch, in stream order, into at most one write per message:
// the last change wins, and changes the guard calls stale are dropped.
// Events that do not decode are terminated and logged; other event types
// (the source should not send them) are acked and ignored.
func (ix *Indexer) plan(batch []DeliveredEvent) plan {
	var p plan
	type final struct {
		del bool
		doc ports.SearchDocument
	}
	last := make(map[int64]final)
	var order []int64
	set := func(id int64, f final) {
		if _, ok := last[id]; !ok {
			order = append(order, id)
		}
		last[id] = f
	}
	for _, d := range batch {
		e := d.Event()
		switch e.Type {
		case ports.EventMessageCreated, ports.EventMessageUpdated:
			var m messageData
			if err := json.Unmarshal(e.Data, &m); err != nil || m.ID <= 0 {
				ix.terminate(d, fmt.Errorf("message data: %w", orInvalid(err)))
				continue
			}
			p.settle = append(p.settle, d)
			if m.DeletedAt != nil {
				p.changed = append(p.changed, *m.DeletedAt)
				ix.guard.deleted(m.ID)
				set(m.ID, final{del: true})
				continue
			}
			version := m.CreatedAt
			if m.EditedAt != nil {
				version = *m.EditedAt
			}
			p.changed = append(p.changed, orTime(version, e.OccurredAt))
			if !ix.guard.upsert(m.ID, version, e.Type == ports.EventMessageUpdated) {
				ix.log.Debug("search indexer: skipping a stale change",
					zap.Int64("message_id", m.ID), zap.String("event_id", e.ID), zap.String("type", e.Type))
				continue
			}
			chatID := m.ChatID
			if chatID == 0 {
				chatID = e.ChatID
			}
			set(m.ID, final{doc: ports.SearchDocument{ID: m.ID, ChatID: chatID, WorkspaceID: e.WorkspaceID,
				SenderID: m.SenderID, Seq: m.Seq, Content: m.Content, FileNames: fileNames(m.Attachments), CreatedAt: m.CreatedAt}})
		case ports.EventMessagesReindex:
			var r ports.MessagesReindexData
			if err := json.Unmarshal(e.Data, &r); err != nil || r.ChatID <= 0 || r.MentionedUserID <= 0 {
				ix.terminate(d, fmt.Errorf("message.reindex data: %w", orInvalid(err)))
				continue
			}
			p.settle = append(p.settle, d)
			if !slices.Contains(p.reindex, r) {
				p.reindex = append(p.reindex, r)
			}
		case ports.EventMessageDeleted:
			var m api.MessageDeleted
			if err := json.Unmarshal(e.Data, &m); err != nil || m.ID <= 0 {
				ix.terminate(d, fmt.Errorf("message.deleted data: %w", orInvalid(err)))
				continue
			}
			p.settle = append(p.settle, d)
			p.changed = append(p.changed, e.OccurredAt)
			ix.guard.deleted(m.ID)
			set(m.ID, final{del: true})
		default:
			p.settle = append(p.settle, d)
		}
	}
	for _, id := range order {
		if f := last[id]; f.del {
			p.deletes = append(p.deletes, id)
		} else {
			p.upserts = append(p.upserts, f.doc)
		}
	}
	return p
}

func (ix *Indexer) write(ctx context.Context, p plan) error {
	upserts, deletes := p.upserts, p.deletes
	if ix.docs != nil && len(upserts) > 0 {
		var err error
		if upserts, deletes, err = ix.load(ctx, p); err != nil {
			return err
		}
	}
	if len(deletes) > 0 {
		if err := ix.index.Delete(ctx, deletes); err != nil {
			return err
		}
	}
	if len(upserts) > 0 {
		if err := ix.index.Upsert(ctx, upserts); err != nil {
			return err
		}
	}
	return ix.reindexMentions(ctx, p.reindex)
}

// reindexMentions writes again, as stored now, the documents of the
// messages each rename names (without a loader there is nothing to read
// the new name from).
func (ix *Indexer) reindexMentions(ctx context.Context, renames []ports.MessagesReindexData) error {
	if ix.docs == nil {
		return nil
	}
	for _, r := range renames {
		ids, err := ix.docs.MessagesMentioning(ctx, r.ChatID, r.MentionedUserID)
		if err != nil {
			return fmt.Errorf("find mentions of user %d in chat %d: %w", r.MentionedUserID, r.ChatID, err)
		}
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), reindexChunk)]
			ids = ids[len(chunk):]
			docs, err := ix.docs.SearchDocumentsByID(ctx, chunk)
			if err != nil {
				return fmt.Errorf("load search documents: %w", err)
			}
			if err := ix.index.Upsert(ctx, docs); err != nil {
				return err
			}
		}
	}
	return nil
}

// load replaces the planned upserts by the documents the loader builds;
// those it does not return (deleted meanwhile) join the deletes.
func (ix *Indexer) load(ctx context.Context, p plan) (upserts []ports.SearchDocument, deletes []int64, err error) {
	ids := make([]int64, len(p.upserts))
	for i, d := range p.upserts {
		ids[i] = d.ID
	}
	docs, err := ix.docs.SearchDocumentsByID(ctx, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("load search documents: %w", err)
	}
	byID := make(map[int64]ports.SearchDocument, len(docs))
	for _, d := range docs {
		byID[d.ID] = d
	}
	deletes = p.deletes
	for _, id := range ids {
		if d, ok := byID[id]; ok {
			upserts = append(upserts, d)
		} else {
			deletes = append(deletes, id)
		}
	}
	return upserts, deletes, nil
}

// accepted acks a written batch and reports its lag.
func (ix *Indexer) accepted(p plan) {
	for _, d := range p.settle {
		if err := d.Ack(); err != nil {
			// Delivered again later and indexed again: harmless.
			ix.log.Debug("search indexer: ack failed", zap.String("event_id", d.Event().ID), zap.Error(err))
		}
	}
	now := ix.opts.Clock.Now()
	var worst time.Duration
	for _, at := range p.changed {
		if at.IsZero() {
			continue
		}
		lag := max(now.Sub(at), 0)
		worst = max(worst, lag)
		if ix.opts.OnLag != nil {
			ix.opts.OnLag(lag)
		}
	}
	if len(p.changed) > 0 {
		ix.lastLag.Store(int64(worst))
	}
}

func (ix *Indexer) terminate(d DeliveredEvent, err error) {
	e := d.Event()
	ix.log.Error("search indexer: dropping an event that does not decode",
		zap.String("event_id", e.ID), zap.String("type", e.Type), zap.Error(err))
	if terr := d.Term(); terr != nil {
		ix.log.Warn("search indexer: terminate failed", zap.String("event_id", e.ID), zap.Error(terr))
	}
}

func nakAll(events []DeliveredEvent) {
	for _, d := range events {
		_ = d.Nak(0)
	}
}

func orInvalid(err error) error {
	if err == nil {
		return errors.New("no message id")
	}
	return err
}

func orTime(t, fallback time.Time) time.Time {
	if t.IsZero() {
		return fallback
	}
	return t
}

// guard remembers, per message, the newest edit applied and whether the
// message was deleted, so that a redelivered older change does not undo a
// newer one: events come in stream order, but a nak'd or timed-out event
// comes back after later ones. Deletes are final, so a deleted message is
// never upserted again; creates are not remembered (they are the oldest
// version of a message). Memory is bounded by two generations of size
// entries: an entry lives for at least size later edits and deletes, far
// longer than any redelivery delay.
type guard struct {
	size      int
	cur, prev map[int64]guardEntry
}

type guardEntry struct {
	deleted bool
	version time.Time
}

func newGuard(size int) *guard {
	return &guard{size: size, cur: make(map[int64]guardEntry), prev: map[int64]guardEntry{}}
}

func (g *guard) get(id int64) (guardEntry, bool) {
	if e, ok := g.cur[id]; ok {
		return e, true
	}
	e, ok := g.prev[id]
	return e, ok
}

func (g *guard) put(id int64, e guardEntry) {
	if len(g.cur) >= g.size {
		g.prev, g.cur = g.cur, make(map[int64]guardEntry)
	}
	g.cur[id] = e
}

// upsert tells whether a version of message id may be written, and
// remembers it if it is an edit.
func (g *guard) upsert(id int64, version time.Time, edit bool) bool {
	e, ok := g.get(id)
	if ok && (e.deleted || version.Before(e.version)) {
		return false
	}
	if edit {
		g.put(id, guardEntry{version: version})
	}
	return true
}

func (g *guard) deleted(id int64) { g.put(id, guardEntry{deleted: true}) }
