package ports

import (
	"context"
	"encoding/json"
	"strconv"
	"time"
)

// EventVersion is the version of the event envelope below. A change that
// removes or renames a field bumps it.
const EventVersion = 1

// Event types.
const (
	EventMessageCreated    = "message.created"
	EventMessageUpdated    = "message.updated"
	EventMessageDeleted    = "message.deleted"
	EventChatCreated       = "chat.created"
	EventChatUpdated       = "chat.updated"
	EventChatDeleted       = "chat.deleted"
	EventChatMemberAdded   = "chat.member_added"
	EventChatMemberRemoved = "chat.member_removed"
	EventSessionRevoked    = "session.revoked" // user-scoped
	EventReceiptUpdated    = "receipt.updated" // a member's pointer moved by delivered/read
	// EventMessagesReindex asks the search indexer to index again the
	// chat's messages that mention a user whose name changed
	// (MessagesReindexData); no client sees it.
	EventMessagesReindex = "message.reindex"
)

// MessagesReindexData is the data of message.reindex.
type MessagesReindexData struct {
	ChatID          int64 `json:"chat_id"`
	MentionedUserID int64 `json:"mentioned_user_id"`
}

// Chat events go to <prefix>.chat.<chat_id>.<type>. A few also go, as a
// separate event with its own id, to <prefix>.user.<user_id>.<type>: so
// that an instance not yet following a chat learns of it. chat.created goes
// to each member, chat.member_added and chat.member_removed to that member,
// and session.revoked to the session's user.
//
// Event is the envelope of every domain event, in the outbox, on NATS and to
// consumers. Data holds the API.md object of the event as JSON.
type Event struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Version     int             `json:"version"`
	OccurredAt  time.Time       `json:"occurred_at"`
	WorkspaceID int64           `json:"workspace_id"`
	ChatID      int64           `json:"chat_id,omitempty"`
	UserID      int64           `json:"user_id,omitempty"` // for user-scoped events
	Data        json.RawMessage `json:"data"`
}

// Subject is the NATS subject of the event under prefix (normally
// "fechatter"): prefix.chat.<chat_id>.<type> for chat events,
// prefix.user.<user_id>.<type> for user events.
func (e Event) Subject(prefix string) string {
	if e.ChatID != 0 {
		return prefix + ".chat." + strconv.FormatInt(e.ChatID, 10) + "." + e.Type
	}
	return prefix + ".user." + strconv.FormatInt(e.UserID, 10) + "." + e.Type
}

// Outbox records events in the transaction of the change they describe.
type Outbox interface {
	// Add must run inside the transaction of the change.
	Add(ctx context.Context, events ...Event) error
}

// OutboxEntry is an event waiting in the outbox, with its position.
type OutboxEntry struct {
	Position int64
	Event    Event
}

// OutboxStore is the relay's side of the outbox.
type OutboxStore interface {
	// Pending returns up to limit events in the order they were added.
	Pending(ctx context.Context, limit int) ([]OutboxEntry, error)
	// Remove deletes published entries.
	Remove(ctx context.Context, positions []int64) error
	// Notify returns a channel that receives a value after a commit added
	// events (best effort; the relay also polls).
	Notify() <-chan struct{}
}

// ExclusiveOutbox is an OutboxStore shared by several processes that can
// let one relay at a time work on it.
type ExclusiveOutbox interface {
	OutboxStore
	// Exclusive runs fn while no other relay's Exclusive runs on this
	// outbox (in any process); the Pending and Remove calls fn makes with
	// its ctx take effect together when fn returns nil.
	Exclusive(ctx context.Context, fn func(ctx context.Context) error) error
}

// EventPublisher publishes events to the bus, deduplicated by event id.
type EventPublisher interface {
	Publish(ctx context.Context, e Event) error
}

// EventBatchPublisher is an EventPublisher that can have many publishes in
// flight at once. PublishBatch sends events in order without waiting for
// each ack, then waits for all of them, and returns how many leading
// events were acknowledged: len(events), or the index of the first failure
// with its error (later events may have been stored too; the bus drops
// them as duplicates when they are published again).
type EventBatchPublisher interface {
	EventPublisher
	PublishBatch(ctx context.Context, events []Event) (int, error)
}
