package nats

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.EventSubscriber = (*Subscriber)(nil)

// subscribeFlushTimeout bounds the wait for the server to confirm a new
// subscription when the caller's ctx has no deadline.
const subscribeFlushTimeout = 5 * time.Second

// dedupeWindow is how many recent event ids each subscription remembers.
// The server hands every publish to core subscribers, duplicates included
// (JetStream's dedupe only decides what is stored), so a relay retry would
// otherwise be delivered twice. A retry follows its original closely: a
// relay publishes nothing else until the event is acknowledged.
const dedupeWindow = 256

// Subscriber delivers events through core NATS subscriptions: JetStream
// stores the event subjects, and the server also hands them to plain
// subscribers, which is all live fan-out needs.
type Subscriber struct {
	nc     *nats.Conn
	prefix string
	log    *zap.Logger
}

// NewSubscriber returns a subscriber for events under prefix ("" means
// DefaultSubjectPrefix).
func NewSubscriber(nc *nats.Conn, prefix string, log *zap.Logger) (*Subscriber, error) {
	if nc == nil {
		return nil, errs.New(errs.Internal, "nats subscriber: nil connection")
	}
	if prefix == "" {
		prefix = DefaultSubjectPrefix
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Subscriber{nc: nc, prefix: prefix, log: log}, nil
}

// SubscribeChat delivers the events of chat chatID (<prefix>.chat.<id>.>).
func (s *Subscriber) SubscribeChat(ctx context.Context, chatID int64, handler func(ports.Event)) (ports.Subscription, error) {
	return s.subscribe(ctx, s.prefix+".chat."+strconv.FormatInt(chatID, 10)+".>", handler)
}

// SubscribeUser delivers the events of user userID (<prefix>.user.<id>.>).
func (s *Subscriber) SubscribeUser(ctx context.Context, userID int64, handler func(ports.Event)) (ports.Subscription, error) {
	return s.subscribe(ctx, s.prefix+".user."+strconv.FormatInt(userID, 10)+".>", handler)
}

// instanceDedupeWindow is the id window of the instance subscription,
// which sees the events of every chat: a retry may follow its original
// after the events of many other chats.
const instanceDedupeWindow = 16384

// SubscribeAll delivers every chat and user event (<prefix>.>) through one
// NATS subscription, hence one delivery goroutine and one id window for
// the whole instance.
func (s *Subscriber) SubscribeAll(ctx context.Context, handler func(ports.Event)) (ports.Subscription, error) {
	return s.subscribeN(ctx, s.prefix+".>", instanceDedupeWindow, handler)
}

func (s *Subscriber) subscribe(ctx context.Context, subject string, handler func(ports.Event)) (ports.Subscription, error) {
	return s.subscribeN(ctx, subject, dedupeWindow, handler)
}

func (s *Subscriber) subscribeN(ctx context.Context, subject string, window int, handler func(ports.Event)) (ports.Subscription, error) {
	if handler == nil {
		return nil, errs.Invalidf("subscribe %s: nil handler", subject)
	}
	sub := &subscription{}
	seen := newRecentIDs(window) // used by this subscription's one delivery goroutine only
	ns, err := s.nc.Subscribe(subject, func(m *nats.Msg) {
		if sub.closed.Load() {
			return
		}
		var e ports.Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			s.log.Warn("dropping undecodable event", zap.String("subject", m.Subject), zap.Int("bytes", len(m.Data)), zap.Error(err))
			return
		}
		if e.ID != "" && !seen.add(e.ID) {
			return
		}
		handler(e)
	})
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "subscribe %s", subject)
	}
	sub.sub = ns
	if window == instanceDedupeWindow {
		// Every local connection's events wait here while the hub is busy:
		// allow bursts well past the client's default (512k messages).
		if err := ns.SetPendingLimits(4<<20, 1<<30); err != nil {
			_ = ns.Unsubscribe()
			return nil, errs.Wrap(errs.Internal, err, "subscribe %s", subject)
		}
	}
	// Wait for the server to have the subscription, so that every event
	// published after this call returns is delivered.
	ctx, cancel := context.WithTimeout(ctx, subscribeFlushTimeout)
	defer cancel()
	if err := s.nc.FlushWithContext(ctx); err != nil {
		_ = ns.Unsubscribe()
		return nil, errs.Wrap(errs.Unavailable, err, "subscribe %s", subject)
	}
	return sub, nil
}

type subscription struct {
	sub    *nats.Subscription
	closed atomic.Bool // checked before each handler call
	once   sync.Once
	err    error
}

func (s *subscription) Unsubscribe() error {
	s.once.Do(func() {
		s.closed.Store(true)
		if err := s.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			s.err = errs.Wrap(errs.Unavailable, err, "unsubscribe %s", s.sub.Subject)
		}
	})
	return s.err
}

// recentIDs remembers the last n event ids, as 64-bit hashes to keep a
// subscription small.
type recentIDs struct {
	set  map[uint64]struct{}
	ring []uint64
	next int
}

func newRecentIDs(n int) *recentIDs {
	return &recentIDs{set: make(map[uint64]struct{}, n), ring: make([]uint64, 0, n)}
}

// add records id and reports whether it was new.
func (r *recentIDs) add(id string) bool {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	k := h.Sum64()
	if _, dup := r.set[k]; dup {
		return false
	}
	if len(r.ring) < cap(r.ring) {
		r.ring = append(r.ring, k)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = k
		r.next = (r.next + 1) % len(r.ring)
	}
	r.set[k] = struct{}{}
	return true
}
