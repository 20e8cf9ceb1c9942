package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/ports"
)

var (
	_ ports.Outbox          = (*Outbox)(nil)
	_ ports.ExclusiveOutbox = (*Outbox)(nil)
)

// Outbox keeps events in the outbox table until the relay has published
// them. One Outbox serves both the commands (Add) and the relay (Pending,
// Remove, Notify): the signal reaches only the Notify channel of the Outbox
// whose Add ran.
type Outbox struct {
	db     *bun.DB
	notify chan struct{}

	// Every event is inserted and deleted once, so the table is all dead
	// tuples unless vacuumed; the relay's scan of an "empty" outbox then
	// reads them all. The outbox vacuums itself after vacuumEvery removals
	// (not relying on autovacuum, which may be off).
	removed   atomic.Int64
	vacuuming atomic.Bool
}

// vacuumEvery is how many removed events make the outbox vacuum itself.
const vacuumEvery = 20_000

// NewOutbox returns an Outbox on db.
func NewOutbox(db *bun.DB) *Outbox {
	mustDB(db, "NewOutbox")
	return &Outbox{db: db, notify: make(chan struct{}, 1)}
}

// Add stores events, each whole envelope as the payload. The relay hears of
// them after the transaction commits (at once when there is none).
func (o *Outbox) Add(ctx context.Context, events ...ports.Event) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([]outboxRow, len(events))
	for i, e := range events {
		payload, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("postgres: outbox: encode event %s: %w", e.ID, err)
		}
		rows[i] = outboxRow{ID: e.ID, Type: e.Type, Payload: string(payload)}
	}
	if _, err := conn(ctx, o.db).NewInsert().Model(&rows).Exec(ctx); err != nil {
		return dbError(err, "add events to the outbox")
	}
	afterCommit(ctx, o.db, o.signal)
	return nil
}

func (o *Outbox) signal() {
	select {
	case o.notify <- struct{}{}:
	default: // a signal is already pending; the relay reads everything then
	}
}

// Pending returns the oldest events, in position order.
func (o *Outbox) Pending(ctx context.Context, limit int) ([]ports.OutboxEntry, error) {
	if limit <= 0 {
		return []ports.OutboxEntry{}, nil
	}
	var rows []outboxRow
	err := conn(ctx, o.db).NewSelect().Model(&rows).Column("position", "payload").
		OrderExpr("position").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, dbError(err, "read the outbox")
	}
	out := make([]ports.OutboxEntry, len(rows))
	for i, row := range rows {
		var e ports.Event
		if err := json.Unmarshal([]byte(row.Payload), &e); err != nil {
			return nil, fmt.Errorf("postgres: outbox entry %d does not decode: %w", row.Position, err)
		}
		out[i] = ports.OutboxEntry{Position: row.Position, Event: e}
	}
	return out, nil
}

// Remove deletes published entries; unknown positions are ignored.
func (o *Outbox) Remove(ctx context.Context, positions []int64) error {
	if len(positions) == 0 {
		return nil
	}
	_, err := conn(ctx, o.db).NewDelete().Model((*outboxRow)(nil)).
		Where("position IN (?)", bun.List(positions)).Exec(ctx)
	if err != nil {
		return dbError(err, "remove events from the outbox")
	}
	afterCommit(ctx, o.db, func() {
		if o.removed.Add(int64(len(positions))) >= vacuumEvery && o.vacuuming.CompareAndSwap(false, true) {
			o.removed.Store(0)
			go o.vacuum()
		}
	})
	return nil
}

// vacuum reclaims the dead tuples of removed events, in the background.
func (o *Outbox) vacuum() {
	defer o.vacuuming.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = o.db.ExecContext(ctx, "VACUUM outbox") // best effort: the next one retries
}

// Notify receives a value after a commit that added events.
func (o *Outbox) Notify() <-chan struct{} { return o.notify }

// relayLock is the advisory lock key the relays of every instance take
// turns on ("fechatter outbox relay").
const relayLock = 0x0fec4a77e0

// Exclusive runs fn in a transaction holding a transaction-scoped advisory
// lock: the relays of several instances take turns (a relay waits for the
// one draining, then finds what is left) instead of each publishing every
// event, and what fn removed is deleted when the turn commits.
//
// The transaction commits without waiting for its WAL flush
// (synchronous_commit off, for it alone): it only removes events that are
// already published, so a Postgres crash that loses the removals of its
// last moments (about three wal_writer_delay, 600 ms) makes the relay
// publish them again. The stream drops the copies by their Nats-Msg-Id
// within its duplicate window (2 minutes); a recovery longer than that
// stores them twice, and live subscribers may see them twice: clients
// already deduplicate message events by (chat_id, seq), and the other
// events carry state (a pointer, the reaction set), so a copy changes
// nothing. The relay's turn then costs no disk flush, which would
// otherwise delay every delivery behind it and queue with the senders'
// own flushes (those stay synchronous: an ack means durable).
func (o *Outbox) Exclusive(ctx context.Context, fn func(ctx context.Context) error) error {
	return inTx(ctx, o.db, func(ctx context.Context) error {
		if _, err := conn(ctx, o.db).ExecContext(ctx,
			"SELECT pg_advisory_xact_lock(?), set_config('synchronous_commit', 'off', true)", relayLock); err != nil {
			return dbError(err, "take the outbox relay lock")
		}
		return fn(ctx)
	})
}
