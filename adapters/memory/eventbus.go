package memory

import (
	"context"
	"sync"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

var (
	_ ports.EventPublisher  = (*EventBus)(nil)
	_ ports.EventSubscriber = (*EventBus)(nil)
)

// EventBus is an in-process event bus for tests: events are deduplicated by
// id (for the life of the bus, where JetStream keeps a window) and delivered
// to every matching subscription in publish order, each subscription on its
// own goroutine as NATS does.
type EventBus struct {
	mu        sync.Mutex
	seen      map[string]struct{}
	published []ports.Event
	subs      map[*busSubscription]struct{}
}

// NewEventBus returns an empty bus.
func NewEventBus() *EventBus {
	return &EventBus{
		seen: make(map[string]struct{}),
		subs: make(map[*busSubscription]struct{}),
	}
}

// Publish delivers e to the current subscribers of its chat or user, unless
// an event with the same id was published before.
func (b *EventBus) Publish(ctx context.Context, e ports.Event) error {
	if err := ctx.Err(); err != nil {
		return errs.Wrap(errs.Unavailable, err, "publish event %s", e.ID)
	}
	if e.ID == "" {
		return errs.Invalidf("event has no id")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.seen[e.ID]; dup {
		return nil
	}
	b.seen[e.ID] = struct{}{}
	b.published = append(b.published, e)
	for s := range b.subs {
		if s.matches(e) {
			s.enqueue(e) // under b.mu, so every queue keeps publish order
		}
	}
	return nil
}

// Published returns every event accepted so far, in publish order, without
// duplicates.
func (b *EventBus) Published() []ports.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]ports.Event(nil), b.published...)
}

// SubscribeChat delivers the events of chat chatID to handler.
func (b *EventBus) SubscribeChat(ctx context.Context, chatID int64, handler func(ports.Event)) (ports.Subscription, error) {
	return b.subscribe(ctx, &busSubscription{chatID: chatID}, handler)
}

// SubscribeUser delivers the user-scoped events of user userID to handler.
func (b *EventBus) SubscribeUser(ctx context.Context, userID int64, handler func(ports.Event)) (ports.Subscription, error) {
	return b.subscribe(ctx, &busSubscription{userID: userID}, handler)
}

// SubscribeAll delivers every event to handler.
func (b *EventBus) SubscribeAll(ctx context.Context, handler func(ports.Event)) (ports.Subscription, error) {
	return b.subscribe(ctx, &busSubscription{all: true}, handler)
}

func (b *EventBus) subscribe(ctx context.Context, s *busSubscription, handler func(ports.Event)) (ports.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "subscribe")
	}
	if handler == nil {
		return nil, errs.Invalidf("subscribe: nil handler")
	}
	s.bus = b
	s.handler = handler
	s.wake = make(chan struct{}, 1)
	s.done = make(chan struct{})
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go s.deliver()
	return s, nil
}

// busSubscription queues events without bound so Publish never waits for a
// slow handler.
type busSubscription struct {
	bus     *EventBus
	chatID  int64 // set for a chat subscription
	userID  int64 // set for a user subscription
	all     bool  // every event
	handler func(ports.Event)

	mu     sync.Mutex
	queue  []ports.Event
	closed bool
	wake   chan struct{}
	done   chan struct{}
	once   sync.Once
}

func (s *busSubscription) matches(e ports.Event) bool {
	if s.all {
		return true
	}
	if s.chatID != 0 {
		return e.ChatID == s.chatID
	}
	return e.ChatID == 0 && e.UserID == s.userID
}

func (s *busSubscription) enqueue(e ports.Event) {
	s.mu.Lock()
	s.queue = append(s.queue, e)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *busSubscription) deliver() {
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			if s.closed || len(s.queue) == 0 {
				s.mu.Unlock()
				break
			}
			e := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			s.handler(e)
		}
	}
}

// Unsubscribe stops delivery; events still queued are dropped.
func (s *busSubscription) Unsubscribe() error {
	s.once.Do(func() {
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
		s.mu.Lock()
		s.closed = true
		s.queue = nil
		s.mu.Unlock()
		close(s.done)
	})
	return nil
}
