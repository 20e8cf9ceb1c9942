package ports

import (
	"context"
	"errors"

	"github.com/fechatter/fechatter/domain/message"
)

// ErrDuplicateIdempotencyKey is returned (wrapped in an errs.Conflict) by
// Append when the sender already has a message with that idempotency key.
var ErrDuplicateIdempotencyKey = errors.New("duplicate idempotency key")

// MessageRepository stores messages.
type MessageRepository interface {
	// Append must run inside a transaction. It takes the chat's next seq
	// (gapless: the bump rolls back with the transaction), stores m, sets its
	// id and seq, and moves the sender's read and delivered pointers to it.
	// errs.NotFound if the chat is gone; a taken (sender, idempotency key)
	// wraps ErrDuplicateIdempotencyKey.
	Append(ctx context.Context, m *message.Message) error
	// ByIdempotencyKey finds the sender's message with key; errs.NotFound.
	ByIdempotencyKey(ctx context.Context, senderID int64, key string) (*message.Message, error)
	// BySeq finds a message of a chat; errs.NotFound. Inside a transaction
	// the row is locked until it ends.
	BySeq(ctx context.Context, chatID, seq int64) (*message.Message, error)
	// ByID finds a message by id; errs.NotFound.
	ByID(ctx context.Context, id int64) (*message.Message, error)
	// Save writes content, edited_at and deleted_at of an existing message.
	Save(ctx context.Context, m *message.Message) error
}

// Sent is what MessageSender.Send stored or found.
type Sent struct {
	Message *message.Message
	// Replay is true when the sender already had a message with the
	// idempotency key: Message is that one, and nothing was written.
	Replay bool
}

// MessageEvents builds the events of a message just stored (its id and seq
// set); they are written in the same transaction as the message.
type MessageEvents func(m *message.Message) []Event

// MessageSender is the write of one send: the whole of it is settled in
// one transaction that the adapter owns.
type MessageSender interface {
	// Send stores m (built by message.New) as the next seq of its chat,
	// moves the sender's read and delivered pointers to it and adds
	// events(m) to the outbox, durably, before it returns. If the sender
	// already has a message with m's idempotency key it writes nothing and
	// returns that message with Replay true (whatever its chat or content:
	// the caller decides whether that is a conflict), however many sends
	// with that key run at once. errs.NotFound if the sender is not a
	// member of the chat (or the chat is gone); errs.Invalid if m replies to
	// a message that is not in its chat. On success m has its id and seq.
	Send(ctx context.Context, m *message.Message, events MessageEvents) (Sent, error)
}
