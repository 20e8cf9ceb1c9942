package ports

import (
	"context"
	"time"

	"github.com/fechatter/fechatter/domain/presence"
)

// Ephemeral event types: they never enter the outbox or the stream.
const (
	// EventTyping is published with a SignalPublisher on
	// <prefix>.chat.<chat_id>.typing: one token, where the stream captures
	// only <prefix>.chat.*.*.*, so it is never stored, while the chat's
	// subscriptions (<prefix>.chat.<id>.>) hear it. Data is an api.TypingUpdate
	// (command.TypingEvent), the typing.updated frame's.
	EventTyping = "typing"
	// EventPresenceUpdated is the frame of a presence change. It is not
	// published: every instance watches the presence store and delivers
	// the changes to its own connections.
	EventPresenceUpdated = "presence.updated"
)

// SignalPublisher publishes ephemeral events (typing) to the instances
// that follow their chat, as SubscribeChat delivers them: fire and forget,
// not stored, not retried. A signal published while nobody listens is lost,
// which is what a typing indicator wants.
type SignalPublisher interface {
	PublishSignal(ctx context.Context, e Event) error
}

// PresenceChange is a change of the presence store as a watcher sees it:
// an entry put (Deleted false, with Entry) or deleted, or an instance's
// beat (Beat, UserID 0).
type PresenceChange struct {
	Instance string
	UserID   int64
	Entry    presence.Entry
	Deleted  bool
	Beat     bool
	// At is when the store took the put or the beat (its own clock), so
	// that a watcher loading old keys does not take them for fresh.
	At time.Time
}

// PresenceStore is shared by the server instances. Each instance beats
// every heartbeat (Beat) and puts, per user with connections on it, what
// its connections say (presence.Entry) when that changes; every instance
// watches the beats and all entries and merges, per user, the entries of
// the instances alive. An instance that dies stops beating, and its
// entries stop counting TTL after its last beat. An entry is rewritten
// when it changes, not every heartbeat, so a connected user who does
// nothing costs nothing; entries not rewritten within EntryTTL are removed
// (a safety net for those of dead instances: live instances rewrite
// theirs well within it). Instance names are 1..64 of [A-Za-z0-9_-].
type PresenceStore interface {
	// Put writes instance's entry of userID; it lives EntryTTL from now.
	Put(ctx context.Context, instance string, userID int64, e presence.Entry) error
	// Delete removes instance's entry of userID (no error if absent).
	Delete(ctx context.Context, instance string, userID int64) error
	// Beat says instance is alive, for TTL from now.
	Beat(ctx context.Context, instance string) error
	// Watch calls handler with every live entry and every beat younger
	// than TTL before it returns, then with every put, delete and beat
	// after that, from one goroutine at a time in order, until the
	// subscription ends; ctx bounds the call only. A key's changes not
	// yet delivered may be coalesced to its latest (the JetStream bucket
	// keeps one revision per key, so a watcher that lags skips older
	// ones): every key's latest state always arrives. Expiry is not
	// announced (NATS Server 2.9 has no expiry markers): watchers judge
	// an instance dead themselves, TTL after they last heard it beat.
	Watch(ctx context.Context, handler func(PresenceChange)) (Subscription, error)
	// TTL is how long an instance counts as alive after its last beat.
	TTL() time.Duration
	// EntryTTL is how long an entry lives after its last put.
	EntryTTL() time.Duration
}

// LastSeen is a user's last activity as stored, so it survives restarts.
type LastSeen struct {
	UserID   int64
	At       time.Time
	Platform string
}

// LastSeenRepository stores users' last activity (user_presence).
type LastSeenRepository interface {
	// SaveLastSeen records each user's last activity; a time not later
	// than the stored one changes nothing, and an empty platform (a REST
	// write names none) keeps the stored one.
	SaveLastSeen(ctx context.Context, seen []LastSeen) error
	// LastSeen returns the stored last activity of those of userIDs that
	// have one, in any order.
	LastSeen(ctx context.Context, userIDs []int64) ([]LastSeen, error)
}
