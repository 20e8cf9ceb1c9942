package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/ports"
)

var _ event.EventBatchSource = (*PullSource)(nil)

// Pull consumer defaults.
const (
	DefaultIndexerDurable = "search-indexer"
	DefaultAckWait        = 30 * time.Second
	DefaultMaxAckPending  = 1000
	// minFetchWait keeps a pull request's expiry meaningful: a request that
	// expires before it reaches the server only costs a round trip.
	minFetchWait = 10 * time.Millisecond
)

// MessageEventsSubject is the one filter subject of the message events
// under prefix (message.created, .updated, .deleted of every chat). A single
// filter, so it works on NATS Server 2.9.
func MessageEventsSubject(prefix string) string { return prefix + ".chat.*.message.*" }

// PullConsumerConfig describes a durable pull consumer on the event stream.
type PullConsumerConfig struct {
	Stream        StreamConfig  // the stream's Name and Prefix (defaults as EnsureStream)
	Durable       string        // consumer name (default DefaultIndexerDurable)
	FilterSubject string        // default MessageEventsSubject(prefix)
	AckWait       time.Duration // redelivery after this without an ack (default DefaultAckWait)
	MaxAckPending int           // unacked events at most (default DefaultMaxAckPending)
	// InactiveThreshold, when set, has NATS delete the consumer after it
	// has gone that long without a client: for a consumer of one server's
	// own (an embedded index), which nobody else would ever resume.
	InactiveThreshold time.Duration
}

func (c PullConsumerConfig) withDefaults() PullConsumerConfig {
	c.Stream = c.Stream.withDefaults()
	if c.Durable == "" {
		c.Durable = DefaultIndexerDurable
	}
	if c.FilterSubject == "" {
		c.FilterSubject = MessageEventsSubject(c.Stream.Prefix)
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	return c
}

// PullSource is an event.EventBatchSource on a durable JetStream pull
// consumer with explicit acks: events not acked within AckWait, or nak'd,
// are delivered again (without limit), so a failing consumer loses
// nothing. Several server instances may share the durable; each event then
// goes to one of them: right for an index they share (Meilisearch), wrong
// for an index each keeps (Bleve), which needs a durable of its own.
type PullSource struct {
	js  jetstream.JetStream
	cfg PullConsumerConfig
	log *zap.Logger

	mu    sync.Mutex
	cons  jetstream.Consumer // nil after a failure: created again on the next Fetch
	stale bool
}

// NewPullSource creates the consumer, or updates it to cfg (idempotent),
// on the stream, which must exist (EnsureStream). A new consumer starts at
// the first event the stream holds.
func NewPullSource(ctx context.Context, js jetstream.JetStream, cfg PullConsumerConfig, log *zap.Logger) (*PullSource, error) {
	if js == nil {
		return nil, errors.New("nats pull source: nil JetStream")
	}
	if log == nil {
		log = zap.NewNop()
	}
	s := &PullSource{js: js, cfg: cfg.withDefaults(), log: log}
	if _, err := s.consumer(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// consumer returns the consumer, creating it first if needed.
func (s *PullSource) consumer(ctx context.Context) (jetstream.Consumer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cons != nil && !s.stale {
		return s.cons, nil
	}
	c := s.cfg
	cons, err := s.js.CreateOrUpdateConsumer(ctx, c.Stream.Name, jetstream.ConsumerConfig{
		Durable:       c.Durable,
		Description:   "Fechatter search indexer",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: c.MaxAckPending,
		FilterSubject: c.FilterSubject,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
		// Zero keeps the consumer forever (the shared consumer of a
		// shared index).
		InactiveThreshold: c.InactiveThreshold,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure consumer %s on %s: %w", c.Durable, c.Stream.Name, err)
	}
	s.cons, s.stale = cons, false
	return cons, nil
}

// Fetch pulls up to limit events, waiting at most wait for them. Messages
// that are not event envelopes are terminated and logged, not returned.
// If ctx ends first, Fetch returns what it has with ctx's error.
func (s *PullSource) Fetch(ctx context.Context, limit int, wait time.Duration) ([]event.DeliveredEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	cons, err := s.consumer(ctx)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The pull lives in ctx (not only for its max wait): when the caller
	// stops, the library's fetch goroutine ends at once rather than at the
	// request's expiry.
	fctx, cancel := context.WithTimeout(ctx, max(wait, minFetchWait))
	defer cancel()
	batch, err := cons.Fetch(limit, jetstream.FetchContext(fctx))
	if err != nil {
		s.markStale()
		return nil, fmt.Errorf("fetch from %s: %w", s.cfg.Durable, err)
	}
	var out []event.DeliveredEvent
	msgs := batch.Messages()
	for {
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case msg, ok := <-msgs:
			if !ok {
				err := batch.Error()
				if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
					err = nil // the max wait passed before the server's expiry came back
				}
				if err != nil && len(out) == 0 {
					s.markStale()
					return nil, fmt.Errorf("fetch from %s: %w", s.cfg.Durable, err)
				}
				return out, nil
			}
			var e ports.Event
			if err := json.Unmarshal(msg.Data(), &e); err != nil || e.ID == "" {
				s.log.Error("nats pull source: terminating a message that is not an event",
					zap.String("subject", msg.Subject()), zap.Error(err))
				_ = msg.Term()
				continue
			}
			out = append(out, delivered{msg: msg, ev: e})
		}
	}
}

// markStale has the next Fetch create the consumer again (it may have been
// deleted, or the stream recreated); CreateOrUpdateConsumer is idempotent.
func (s *PullSource) markStale() {
	s.mu.Lock()
	s.stale = true
	s.mu.Unlock()
}

type delivered struct {
	msg jetstream.Msg
	ev  ports.Event
}

func (d delivered) Event() ports.Event { return d.ev }
func (d delivered) Ack() error         { return d.msg.Ack() }
func (d delivered) Term() error        { return d.msg.Term() }

func (d delivered) Nak(delay time.Duration) error {
	if delay <= 0 {
		return d.msg.Nak()
	}
	return d.msg.NakWithDelay(delay)
}
