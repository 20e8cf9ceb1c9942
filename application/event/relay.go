package event

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// RelayOptions tune an OutboxRelay; zero values take the defaults.
type RelayOptions struct {
	BatchSize    int           // events read from the outbox at a time (default 500)
	PollInterval time.Duration // how often the outbox is read without a signal (default 1s)
	MinBackoff   time.Duration // first wait after a failure (default 100ms)
	MaxBackoff   time.Duration // longest wait between retries (default 10s)
}

func (o RelayOptions) withDefaults() RelayOptions {
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	return o
}

// OutboxRelay moves committed events from the outbox to the event bus. It
// reads a batch in outbox order, publishes it (a ports.EventBatchPublisher
// gets the whole batch in flight at once, in order on one connection; any
// other publisher one event at a time, each after the previous ack), and
// removes the acknowledged prefix in one statement: an event is never lost,
// and is published again (then deduplicated by the bus) if the process dies
// between the ack and the removal.
//
// Several relays (one per server instance) may run against the same outbox
// and still keep every chat's events in order in the stream. Each relay
// publishes in position order on one connection, which the stream stores
// in the order it receives; so whichever relay's copy of n+1 is stored, n
// was stored before it (by the same relay, or by another earlier). The
// copies the other relays publish later carry the same Nats-Msg-Id (the
// event id) and JetStream drops them within its duplicate window (2
// minutes). That holds as long as no relay sits on a stale batch for longer
// than the window, which the publish timeout (seconds) ensures; consumers
// still tolerate a late duplicate by event id or seq. One case can reorder:
// a publish lost in the middle of a batch (a connection lost between two
// of its messages) while later ones of the same batch were stored; the
// lost one is stored when retried, after them. Consumers order a chat's
// messages by seq, and clients fill gaps from history.
type OutboxRelay struct {
	store ports.OutboxStore
	pub   ports.EventPublisher
	log   *zap.Logger
	opts  RelayOptions

	drainMu sync.Mutex // one drain at a time in this process (Run and Flush)
}

// NewOutboxRelay returns a relay from store to pub. A nil log discards logs.
func NewOutboxRelay(store ports.OutboxStore, pub ports.EventPublisher, log *zap.Logger, opts RelayOptions) (*OutboxRelay, error) {
	if store == nil {
		return nil, errors.New("outbox relay: nil OutboxStore")
	}
	if pub == nil {
		return nil, errors.New("outbox relay: nil EventPublisher")
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &OutboxRelay{store: store, pub: pub, log: log, opts: opts.withDefaults()}, nil
}

// Run relays until ctx is done, then returns nil. It drains the outbox when
// the store signals a commit and on every poll tick; after a failure it
// retries with exponential backoff, keeping the order.
func (r *OutboxRelay) Run(ctx context.Context) error {
	notify := r.store.Notify()
	tick := time.NewTicker(r.opts.PollInterval)
	defer tick.Stop()
	b := newBackOff(r.opts.MinBackoff, r.opts.MaxBackoff)
	for {
		failures := 0
		_, err := retryUntilDone(ctx, b, func() (struct{}, error) { return struct{}{}, r.drain(ctx) },
			func(err error, wait time.Duration) {
				failures++
				r.log.Warn("outbox relay: publish failed, retrying",
					zap.Error(err), zap.Int("failures", failures), zap.Duration("retry_in", wait))
			})
		if err != nil || ctx.Err() != nil {
			return nil // only ctx's end stops the retries
		}
		if failures > 0 {
			r.log.Info("outbox relay: publishing again", zap.Int("failures", failures))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-notify:
		case <-tick.C:
		}
	}
}

// Flush publishes everything pending now, once, and returns the first
// failure; what it could not publish stays in the outbox. For shutdown.
func (r *OutboxRelay) Flush(ctx context.Context) error {
	return r.drain(ctx)
}

// drain publishes batches until the outbox is empty or a publish fails.
func (r *OutboxRelay) drain(ctx context.Context) error {
	r.drainMu.Lock()
	defer r.drainMu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var more bool
		err := r.exclusive(ctx, func(ctx context.Context) error {
			var err error
			more, err = r.batch(ctx)
			return err
		})
		if err != nil || !more {
			return err
		}
	}
}

// exclusive runs fn as the only relay draining the outbox, when the store
// can say so (ports.ExclusiveOutbox: the relays of several instances then
// take turns instead of publishing every event once each).
func (r *OutboxRelay) exclusive(ctx context.Context, fn func(ctx context.Context) error) error {
	if ex, ok := r.store.(ports.ExclusiveOutbox); ok {
		return ex.Exclusive(ctx, fn)
	}
	return fn(ctx)
}

// batch publishes one batch of pending events and removes the published
// ones; more is true when the batch was full.
func (r *OutboxRelay) batch(ctx context.Context) (more bool, err error) {
	entries, err := r.store.Pending(ctx, r.opts.BatchSize)
	if err != nil || len(entries) == 0 {
		return false, err
	}
	n, pubErr := r.publish(ctx, entries)
	if n > 0 {
		positions := make([]int64, n)
		for i, e := range entries[:n] {
			positions[i] = e.Position
		}
		if err := r.store.Remove(ctx, positions); err != nil {
			// Published but still in the outbox: they go out again and
			// the bus drops the copies.
			return false, errors.Join(pubErr, err)
		}
	}
	if pubErr != nil {
		return false, pubErr
	}
	return len(entries) == r.opts.BatchSize, nil
}

// publish sends entries in order and stops at the first failure, returning
// how many were acknowledged. A publisher that can have many publishes in
// flight gets the whole batch at once.
func (r *OutboxRelay) publish(ctx context.Context, entries []ports.OutboxEntry) (int, error) {
	bp, ok := r.pub.(ports.EventBatchPublisher)
	if !ok {
		return r.publishEach(ctx, entries)
	}
	events := make([]ports.Event, len(entries))
	for i, e := range entries {
		events[i] = e.Event
	}
	done := 0
	for done < len(entries) {
		n, err := bp.PublishBatch(ctx, events[done:])
		done += n
		if err == nil {
			continue
		}
		if errs.Is(err, errs.Invalid) && done < len(entries) {
			r.dropping(entries[done], err)
			done++
			continue
		}
		return done, err
	}
	return done, nil
}

func (r *OutboxRelay) dropping(e ports.OutboxEntry, err error) {
	r.log.Error("outbox relay: dropping an event the bus refuses",
		zap.Int64("position", e.Position), zap.String("event_id", e.Event.ID),
		zap.String("type", e.Event.Type), zap.Error(err))
}

// publishEach publishes one event at a time, each after the previous ack.
func (r *OutboxRelay) publishEach(ctx context.Context, entries []ports.OutboxEntry) (int, error) {
	for i, e := range entries {
		err := r.pub.Publish(ctx, e.Event)
		if errs.Is(err, errs.Invalid) {
			// The bus can never take this event (malformed): retrying it
			// would hold back every later one, so it is dropped, loudly.
			r.dropping(e, err)
			continue
		}
		if err != nil {
			r.log.Debug("outbox relay: publish failed",
				zap.Int64("position", e.Position), zap.String("event_id", e.Event.ID), zap.Error(err))
			return i, err
		}
	}
	return len(entries), nil
}
