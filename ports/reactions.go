package ports

import (
	"context"

	"github.com/fechatter/fechatter/domain/message"
)

// ReactionRepository stores reactions: one row per (message, emoji, user),
// so storage grows with reactions, not with members.
type ReactionRepository interface {
	// Load returns a message's reaction set, emoji in order of first use,
	// each emoji's users in the order they reacted.
	Load(ctx context.Context, messageID int64) (*message.Reactions, error)
	// Add records user's emoji on a message; an existing one is kept.
	Add(ctx context.Context, messageID, userID int64, emoji string) error
	// Remove drops user's emoji; a missing one is fine.
	Remove(ctx context.Context, messageID, userID int64, emoji string) error
	// RemoveAll drops every reaction of a message (it was deleted).
	RemoveAll(ctx context.Context, messageID int64) error
}

// ThreadRepository keeps the reply counts of thread roots.
type ThreadRepository interface {
	// Recount sets a root's reply_count and last_reply_at from its live
	// replies (after one was deleted, in the same transaction) and returns
	// the new state.
	Recount(ctx context.Context, rootID int64) (message.ThreadState, error)
}
