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
