package ports

import (
	"context"

	"github.com/fechatter/fechatter/domain/chat"
)

// ChatRepository stores Chat aggregates. Membership is stored one row per
// member; the methods that change members touch only those rows.
type ChatRepository interface {
	// Create stores a new chat with its members and sets its ID. A second
	// direct chat between the same two users is errs.Conflict.
	Create(ctx context.Context, c *chat.Chat) error
	// Get loads a chat with its members; errs.NotFound if none. Inside a
	// transaction the chat row is locked until it ends.
	Get(ctx context.Context, id int64) (*chat.Chat, error)
	// FindDirect finds the direct chat of two users; errs.NotFound if none.
	FindDirect(ctx context.Context, workspaceID int64, key string) (*chat.Chat, error)
	// SaveInfo writes name, description, owner and updated_at.
	SaveInfo(ctx context.Context, c *chat.Chat) error
	AddMembers(ctx context.Context, chatID int64, ms []chat.Membership) error
	RemoveMember(ctx context.Context, chatID, userID int64) error
	SetRole(ctx context.Context, chatID, userID int64, role chat.Role) error
	Delete(ctx context.Context, chatID int64) error
	// Membership returns userID's membership of chatID; errs.NotFound if the
	// user is not a member (or the chat does not exist).
	Membership(ctx context.Context, chatID, userID int64) (chat.Membership, error)
}
