package ports

import "context"

// EventSubscriber delivers events from the bus as they are published, for
// live fan-out (WebSocket). Subscriptions are plain, not durable: events
// published while nobody listens are not replayed to them; clients catch up
// by seq from storage.
//
// The handler of one subscription is called by one goroutine at a time, in
// the order the events were published, once per event id (a republished
// event, such as a relay retry, is not delivered again; implementations may
// remember only recent ids), and must not block for long. The ctx bounds the
// subscribe call only, not the life of the subscription.
type EventSubscriber interface {
	// SubscribeChat delivers the events of one chat (subjects
	// <prefix>.chat.<chatID>.>).
	SubscribeChat(ctx context.Context, chatID int64, handler func(Event)) (Subscription, error)
	// SubscribeUser delivers the user-scoped events of one user (subjects
	// <prefix>.user.<userID>.>).
	SubscribeUser(ctx context.Context, userID int64, handler func(Event)) (Subscription, error)
	// SubscribeAll delivers every chat and user event (subjects
	// <prefix>.>) to one handler: a server instance's one subscription,
	// which it routes to its local connections itself. Events of one chat
	// arrive in publish order.
	SubscribeAll(ctx context.Context, handler func(Event)) (Subscription, error)
}

// Subscription is a live subscription to the event bus.
type Subscription interface {
	// Unsubscribe stops delivery: once it returns, the handler is not called
	// again (a call already running may finish). Calling it again is a no-op.
	Unsubscribe() error
}
