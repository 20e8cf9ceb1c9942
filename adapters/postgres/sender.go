package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/fechatter/fechatter/adapters/textcheck"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.MessageSender = (*MessageSender)(nil)

// SenderOptions tune a MessageSender; zero values take the defaults.
type SenderOptions struct {
	// Writers is how many transactions write sends at once (default 2).
	// Each writer owns the chats whose id falls to it, so a chat's sends
	// are written by one writer, in the order they arrived.
	Writers int
	// MaxBatch bounds the sends written in one transaction (default 256).
	MaxBatch int
	// Timeout bounds one write transaction (default 10s).
	Timeout time.Duration
	// Hold is how long sends wait for an unreachable database (a restart,
	// a failover) before they fail as unavailable (default 10s).
	Hold time.Duration
}

func (o SenderOptions) withDefaults() SenderOptions {
	if o.Writers <= 0 {
		o.Writers = 2
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Hold <= 0 {
		o.Hold = 10 * time.Second
	}
	return o
}

// MessageSender writes sends by group commit. Concurrent sends queue up;
// a writer takes whatever queued while its previous commit was in flight
// (up to MaxBatch) and writes all of it in one transaction with one
// set-based statement plus one outbox insert, then answers each sender
// after the commit (synchronous_commit stays on: an answer means durable).
// A send that finds its writer idle is written at once: nothing waits on a
// timer.
//
// Everything a send decides is settled inside that statement, against the
// same snapshot and the locks it takes: the replay of an idempotency key
// (the unique index on (sender_id, idempotency_key) with ON CONFLICT DO
// NOTHING guards the race), membership, the reply target, the chat's seq
// (one UPDATE per chat per batch, so a chat's row lock is held once per
// batch, not once per message), the sender's pointers and their receipt
// moves. A batch that loses a key race to another transaction is rolled
// back whole and written again (then it finds the key taken), so seq stays
// gapless.
type MessageSender struct {
	db     *bun.DB
	outbox *Outbox
	opts   SenderOptions

	mu     sync.RWMutex // guards closed against the queue sends
	closed bool
	queues []chan *sendRequest
	wg     sync.WaitGroup
}

type sendRequest struct {
	ctx    context.Context
	m      *message.Message
	events ports.MessageEvents
	done   chan sendResult // buffered: the writer never blocks on it
}

type sendResult struct {
	sent ports.Sent
	err  error
}

// NewMessageSender starts the writers. Close stops them after the queued
// sends are written.
func NewMessageSender(db *bun.DB, outbox *Outbox, opts SenderOptions) *MessageSender {
	mustDB(db, "NewMessageSender")
	if outbox == nil {
		panic("postgres: NewMessageSender: nil outbox")
	}
	opts = opts.withDefaults()
	s := &MessageSender{db: db, outbox: outbox, opts: opts, queues: make([]chan *sendRequest, opts.Writers)}
	for i := range s.queues {
		q := make(chan *sendRequest, 4*opts.MaxBatch)
		s.queues[i] = q
		s.wg.Add(1)
		go s.write(q)
	}
	return s
}

// Send queues m for its chat's writer and waits for the commit that holds
// it (or for ctx: the send may then still be written, as with any request
// whose answer is lost; a retry with the same key finds it).
func (s *MessageSender) Send(ctx context.Context, m *message.Message, events ports.MessageEvents) (ports.Sent, error) {
	if err := storable(m); err != nil {
		return ports.Sent{}, err
	}
	req := &sendRequest{ctx: ctx, m: m, events: events, done: make(chan sendResult, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ports.Sent{}, errs.New(errs.Unavailable, "the server is shutting down")
	}
	q := s.queues[int(uint64(m.ChatID())%uint64(len(s.queues)))]
	select {
	case q <- req:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ports.Sent{}, dbError(ctx.Err(), "send message")
	}
	select {
	case r := <-req.done:
		return r.sent, r.err
	case <-ctx.Done():
		return ports.Sent{}, dbError(ctx.Err(), "send message")
	}
}

// Close writes what is queued and stops the writers.
func (s *MessageSender) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for _, q := range s.queues {
			close(q)
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// storable refuses what Postgres text cannot hold, before it can fail a
// whole batch (the HTTP and WebSocket decoders already refuse it; this is
// for any other caller of the port).
func storable(m *message.Message) error {
	if err := textcheck.String("content", m.Content()); err != nil {
		return err
	}
	return textcheck.String("idempotency_key", m.IdempotencyKey())
}

// write is one writer: it takes the first queued send, everything else
// queued behind it up to MaxBatch, and writes them together.
func (s *MessageSender) write(q chan *sendRequest) {
	defer s.wg.Done()
	batch := make([]*sendRequest, 0, s.opts.MaxBatch)
	for first := range q {
		batch = append(batch[:0], first)
	more:
		for len(batch) < s.opts.MaxBatch {
			select {
			case r, ok := <-q:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		s.writeBatch(batch)
		clear(batch)
	}
}

// writeBatch drops sends whose caller is gone, then writes the rest; a key
// repeated within the batch goes to a later round, so that the repeat sees
// the first one committed and replays it.
func (s *MessageSender) writeBatch(batch []*sendRequest) {
	live := s.stillWaiting(batch)
	for len(live) > 0 {
		round, later := splitRepeats(live)
		s.writeUnique(round)
		live = later
	}
}

type keyOf struct {
	sender int64
	key    string
}

// splitRepeats returns the sends whose (sender, key) is the first of its
// kind in reqs, and the repeats.
func splitRepeats(reqs []*sendRequest) (first, repeats []*sendRequest) {
	seen := make(map[keyOf]struct{}, len(reqs))
	first = reqs[:0:0]
	for _, r := range reqs {
		if k := r.m.IdempotencyKey(); k != "" {
			id := keyOf{r.m.SenderID(), k}
			if _, dup := seen[id]; dup {
				repeats = append(repeats, r)
				continue
			}
			seen[id] = struct{}{}
		}
		first = append(first, r)
	}
	return first, repeats
}

// stillWaiting answers the sends whose callers are gone and returns the
// others.
func (s *MessageSender) stillWaiting(reqs []*sendRequest) []*sendRequest {
	live := reqs[:0:0]
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.done <- sendResult{err: dbError(err, "send message")}
			continue
		}
		live = append(live, r)
	}
	return live
}

// errRaced: another transaction took an idempotency key of the batch (or
// deleted its chat) after the statement's snapshot; the batch rolls back.
var errRaced = errors.New("postgres: send batch raced another transaction")

const maxSendAttempts = 5

// writeUnique writes sends with distinct keys in one transaction, retrying
// the whole transaction after a race, a deadlock or a serialization
// failure. If it fails otherwise, each send is written alone, so that one
// bad send cannot fail the others.
func (s *MessageSender) writeUnique(reqs []*sendRequest) {
	var err error
	held := time.Now()
	// While the database is away: 20ms, 40ms ... 1s between tries.
	pauses := &backoff.ExponentialBackOff{InitialInterval: 20 * time.Millisecond, Multiplier: 2, MaxInterval: time.Second}
	for attempt := 1; ; attempt++ {
		var results []sendResult
		results, err = s.commit(reqs)
		if err == nil {
			s.outbox.signal()
			for i, r := range reqs {
				r.done <- results[i]
			}
			return
		}
		if errors.Is(err, errRaced) || isCode(err, codeSerialization, codeDeadlock) {
			if attempt < maxSendAttempts {
				continue
			}
			break
		}
		// The database is away (restarting, a failover, no connection
		// free): the sends wait for it, up to Hold, rather than fail.
		if !heldThrough(err) {
			break
		}
		pause := pauses.NextBackOff()
		if time.Since(held)+pause > s.opts.Hold {
			break
		}
		if reqs = s.stillWaiting(reqs); len(reqs) == 0 {
			return
		}
		time.Sleep(pause)
	}
	if errors.Is(err, errRaced) {
		err = errs.Wrap(errs.Unavailable, err, "send message: too much contention, try again")
	} else {
		err = dbError(err, "send message")
	}
	if len(reqs) > 1 && !errs.Is(err, errs.Unavailable) {
		for _, r := range reqs {
			s.writeUnique([]*sendRequest{r})
		}
		return
	}
	for _, r := range reqs {
		r.done <- sendResult{err: err}
	}
}

// sendMessages is the whole of a batch of sends in one statement. Its
// input is one row per send (ord is its place in the batch); it answers one
// row per send: prior_id (a replay), member, bad_reply, and for a send it
// stored the planned seq and the new id (new_id NULL while planned_seq is
// set means the insert lost a key race: the caller rolls back).
const sendMessages = `
WITH req AS (
	SELECT r.ord, r.chat_id, r.sender_id, r.content, r.reply_to_id, r.idem_key, r.created_at,
		r.mentions::bigint[] AS mentions, r.mentions_all, r.files::bigint[] AS files
	FROM unnest(?::int[], ?::bigint[], ?::bigint[], ?::text[], ?::bigint[], ?::text[], ?::timestamptz[],
		?::text[], ?::boolean[], ?::text[])
		AS r(ord, chat_id, sender_id, content, reply_to_id, idem_key, created_at, mentions, mentions_all, files)
), verdict AS (
	SELECT r.*, p.id AS prior_id,
		EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = r.chat_id AND cm.user_id = r.sender_id) AS member,
		(r.reply_to_id <> 0 AND pm.id IS NULL) AS bad_reply,
		CASE WHEN pm.id IS NOT NULL THEN coalesce(pm.thread_root_id, pm.id) END AS root_id,
		ARRAY(SELECT x FROM unnest(r.mentions) WITH ORDINALITY AS t(x, i)
			WHERE EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = r.chat_id AND cm.user_id = t.x)
			ORDER BY t.i) AS kept_mentions,
		(cardinality(r.files) > 0 AND (SELECT count(*) FROM files f WHERE f.id = ANY(r.files)
			AND f.uploader_id = r.sender_id AND f.deleted_at IS NULL) <> cardinality(r.files)) AS bad_files,
		(cardinality(r.files) > 0 AND EXISTS (SELECT 1 FROM files f WHERE f.id = ANY(r.files)
			AND f.message_id IS NOT NULL)) AS taken_files
	FROM req r
	LEFT JOIN messages p ON r.idem_key <> '' AND p.sender_id = r.sender_id AND p.idempotency_key = r.idem_key
	LEFT JOIN messages pm ON r.reply_to_id <> 0 AND pm.id = r.reply_to_id AND pm.chat_id = r.chat_id
), ok AS (
	SELECT v.*, row_number() OVER (PARTITION BY v.chat_id ORDER BY v.ord) AS n
	FROM verdict v WHERE v.prior_id IS NULL AND v.member AND NOT v.bad_reply AND NOT v.bad_files AND NOT v.taken_files
), counts AS (
	SELECT chat_id, count(*) AS k, max(created_at) AS at FROM ok GROUP BY chat_id
), bump AS (
	UPDATE chats c SET last_seq = c.last_seq + counts.k, updated_at = GREATEST(c.updated_at, counts.at)
	FROM counts WHERE c.id = counts.chat_id
	RETURNING c.id, c.last_seq - counts.k AS base
), planned AS (
	SELECT ok.*, bump.base + ok.n AS seq FROM ok JOIN bump ON bump.id = ok.chat_id
), ins AS (
	INSERT INTO messages (chat_id, seq, sender_id, content, reply_to_id, idempotency_key, created_at,
		mentions, mentions_all, thread_root_id)
	SELECT chat_id, seq, sender_id, content, NULLIF(reply_to_id, 0), NULLIF(idem_key, ''), created_at,
		kept_mentions, mentions_all, root_id
	FROM planned ORDER BY chat_id, seq
	ON CONFLICT (sender_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
	RETURNING id, chat_id, seq, sender_id, created_at, thread_root_id
), roots AS (
	-- Each thread root counts its new replies once per batch.
	UPDATE messages rt SET reply_count = rt.reply_count + x.k,
		last_reply_at = GREATEST(coalesce(rt.last_reply_at, x.at), x.at)
	FROM (SELECT thread_root_id, count(*) AS k, max(created_at) AS at FROM ins
		WHERE thread_root_id IS NOT NULL GROUP BY thread_root_id) x
	WHERE rt.id = x.thread_root_id
	RETURNING rt.id, rt.seq, rt.reply_count, rt.last_reply_at
), attached AS (
	UPDATE files f SET message_id = ins.id, chat_id = ins.chat_id
	FROM ins JOIN planned pl ON pl.chat_id = ins.chat_id AND pl.seq = ins.seq
	WHERE f.id = ANY(pl.files) AND f.message_id IS NULL AND f.deleted_at IS NULL
	RETURNING f.id, f.message_id
), tops AS (
	SELECT chat_id, sender_id, max(seq) AS top, max(created_at) AS at FROM ins GROUP BY chat_id, sender_id
), old AS (
	SELECT cm.chat_id, cm.user_id, cm.last_delivered_seq AS delivered, cm.last_read_seq AS read, tops.top, tops.at
	FROM chat_members cm JOIN tops ON cm.chat_id = tops.chat_id AND cm.user_id = tops.sender_id
	FOR UPDATE OF cm
), pointers AS (
	UPDATE chat_members m
	SET last_delivered_seq = GREATEST(old.delivered, old.top), last_read_seq = GREATEST(old.read, old.top)
	FROM old WHERE m.chat_id = old.chat_id AND m.user_id = old.user_id
), moves AS (
	INSERT INTO receipt_moves (chat_id, user_id, kind, from_seq, to_seq, at)
	SELECT chat_id, user_id, 'delivered', delivered, top, at FROM old WHERE delivered < top
	UNION ALL
	SELECT chat_id, user_id, 'read', read, top, at FROM old WHERE read < top
)
SELECT v.ord, v.prior_id, v.member, v.bad_reply, v.bad_files, v.taken_files, pl.seq AS planned_seq, ins.id AS new_id,
	v.kept_mentions, v.root_id, roots.seq AS root_seq, roots.reply_count, roots.last_reply_at,
	cardinality(v.files) AS files_wanted,
	(SELECT count(*) FROM attached a WHERE a.message_id = ins.id) AS files_attached
FROM verdict v
LEFT JOIN planned pl ON pl.ord = v.ord
LEFT JOIN ins ON ins.chat_id = pl.chat_id AND ins.seq = pl.seq
LEFT JOIN roots ON roots.id = ins.thread_root_id
ORDER BY v.ord`

type sendVerdict struct {
	Ord        int
	PriorID    *int64
	Member     bool
	BadReply   bool
	BadFiles   bool
	TakenFiles bool
	PlannedSeq *int64
	NewID      *int64

	// Issue 14: the mentions kept (members only), the thread joined and
	// the files attached.
	KeptMentions  []int64    `bun:"kept_mentions,array"`
	RootID        *int64     `bun:"root_id"`
	RootSeq       *int64     `bun:"root_seq"`
	ReplyCount    *int       `bun:"reply_count"`
	LastReplyAt   *time.Time `bun:"last_reply_at"`
	FilesWanted   int        `bun:"files_wanted"`
	FilesAttached int        `bun:"files_attached"`
}

// insertOutbox adds the batch's events in their order.
const insertOutbox = `
INSERT INTO outbox (id, type, payload)
SELECT id, type, payload FROM unnest(?::uuid[], ?::text[], ?::text[]) WITH ORDINALITY AS e(id, type, payload, n)
ORDER BY n`

// commit writes reqs in one transaction and returns each one's result.
func (s *MessageSender) commit(reqs []*sendRequest) ([]sendResult, error) {
	n := len(reqs)
	ords := make([]int, n)
	chats := make([]int64, n)
	senders := make([]int64, n)
	contents := make([]string, n)
	replies := make([]int64, n)
	keys := make([]string, n)
	ats := make([]time.Time, n)
	mentions := make([]string, n)
	mentionsAll := make([]bool, n)
	files := make([]string, n)
	for i, r := range reqs {
		m := r.m
		ords[i], chats[i], senders[i], contents[i] = i, m.ChatID(), m.SenderID(), m.Content()
		replies[i], keys[i], ats[i] = m.ReplyToID(), m.IdempotencyKey(), m.CreatedAt().UTC()
		mentions[i], mentionsAll[i] = int64Array(m.Mentions().UserIDs), m.Mentions().All
		files[i] = int64Array(m.AttachmentIDs())
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	results := make([]sendResult, n)
	write := func(ctx context.Context, tx bun.Tx) error {
		var verdicts []sendVerdict
		err := tx.NewRaw(sendMessages, pgdialect.Array(ords), pgdialect.Array(chats), pgdialect.Array(senders),
			pgdialect.Array(contents), pgdialect.Array(replies), pgdialect.Array(keys), pgdialect.Array(ats),
			pgdialect.Array(mentions), pgdialect.Array(mentionsAll), pgdialect.Array(files)).
			Scan(ctx, &verdicts)
		if err != nil {
			return err
		}
		if len(verdicts) != n {
			return fmt.Errorf("postgres: send batch of %d answered %d rows", n, len(verdicts))
		}
		var priors []int64
		var ids, types, payloads []string
		for _, v := range verdicts {
			r := reqs[v.Ord]
			m := r.m
			switch {
			case v.PriorID != nil:
				priors = append(priors, *v.PriorID)
			case !v.Member:
				results[v.Ord].err = errs.NotFoundf("chat %d not found", m.ChatID())
			case v.BadReply:
				results[v.Ord].err = errs.Invalidf("reply_to_id %d is not a message of chat %d", m.ReplyToID(), m.ChatID())
			case v.BadFiles:
				results[v.Ord].err = errs.NotFoundf("a file of attachment_ids was not found")
			case v.TakenFiles:
				results[v.Ord].err = errs.Conflictf("a file of attachment_ids is already attached to a message")
			case v.PlannedSeq == nil || v.NewID == nil || v.FilesAttached != v.FilesWanted:
				return errRaced // a key or a file taken, or the chat deleted, since the snapshot
			default:
				m.Assign(*v.NewID, *v.PlannedSeq)
				m.SetMentions(message.Mentions{UserIDs: v.KeptMentions, All: m.Mentions().All})
				if v.RootID != nil {
					m.SetThreadRoot(*v.RootID)
					if v.RootSeq != nil && v.ReplyCount != nil {
						m.SetThread(message.ThreadState{RootID: *v.RootID, RootSeq: *v.RootSeq, ReplyCount: *v.ReplyCount, LastReplyAt: utc(deref(v.LastReplyAt))})
					}
				}
				results[v.Ord].sent = ports.Sent{Message: m}
				for _, e := range r.events(m) {
					payload, err := json.Marshal(e)
					if err != nil {
						return fmt.Errorf("postgres: outbox: encode event %s: %w", e.ID, err)
					}
					ids, types, payloads = append(ids, e.ID), append(types, e.Type), append(payloads, string(payload))
				}
			}
		}
		if len(priors) > 0 {
			if err := s.loadPriors(ctx, tx, verdicts, priors, results); err != nil {
				return err
			}
		}
		if len(ids) > 0 {
			_, err := tx.NewRaw(insertOutbox, pgdialect.Array(ids), pgdialect.Array(types), pgdialect.Array(payloads)).Exec(ctx)
			if err != nil {
				return err
			}
		}
		return nil
	}
	err := func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return &beginError{err}
		}
		if err := write(ctx, tx); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return &commitError{err}
		}
		return nil
	}()
	if err != nil {
		for _, r := range reqs {
			r.m.Assign(0, 0) // what the rolled-back attempt gave it
		}
		return nil, err
	}
	return results, nil
}

// commitError is a failed COMMIT: whether the transaction committed is
// unknown, so its sends are not written again (a send without a key would
// be stored twice); their callers are told to retry, and a retry with the
// same key finds the message if it was stored.
type commitError struct{ err error }

func (e *commitError) Error() string { return "commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// beginError is a failure to start the transaction: to connect, mostly.
type beginError struct{ err error }

func (e *beginError) Error() string { return "begin: " + e.err.Error() }
func (e *beginError) Unwrap() error { return e.err }

// heldThrough reports whether a failed write is one the sender retries
// while the database is away: the transaction surely did not commit (the
// failure came before COMMIT) and the database is unreachable, refusing
// connections, restarting or out of connections.
func heldThrough(err error) bool {
	var ce *commitError
	if errors.As(err, &ce) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var be *beginError
	if errors.As(err, &be) {
		return true // whatever the database said, nothing was written
	}
	return errs.Is(dbError(err, ""), errs.Unavailable)
}

// int64Array is a Postgres array literal of ids ({1,2,3}).
func int64Array(ids []int64) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteByte('}')
	return b.String()
}

// loadPriors fills the results of replays with the messages they repeat.
func (s *MessageSender) loadPriors(ctx context.Context, tx bun.Tx, verdicts []sendVerdict, ids []int64, results []sendResult) error {
	var rows []messageRow
	if err := tx.NewSelect().Model(&rows).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return err
	}
	byID := make(map[int64]*message.Message, len(rows))
	for _, row := range rows {
		byID[row.ID] = row.domain()
	}
	for _, v := range verdicts {
		if v.PriorID == nil {
			continue
		}
		prior, ok := byID[*v.PriorID]
		if !ok {
			return errRaced
		}
		results[v.Ord].sent = ports.Sent{Message: prior, Replay: true}
	}
	return nil
}
