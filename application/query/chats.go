package query

import (
	"context"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
)

// MembershipChecker tells whether a user belongs to a chat.
type MembershipChecker interface {
	// Membership returns errs.NotFound for a non-member.
	Membership(ctx context.Context, chatID, userID int64) (chat.Membership, error)
}

// ListChats answers GET /chats.
type ListChats struct{ chats ChatReadModel }

// NewListChats builds the handler.
func NewListChats(chats ChatReadModel) ListChats { mustHave(chats); return ListChats{chats: chats} }

// Handle lists the viewer's chats.
func (h ListChats) Handle(ctx context.Context, v Viewer) ([]ChatSummary, error) {
	return h.chats.ListChats(ctx, v.UserID)
}

// GetChat answers GET /chats/{id}.
type GetChat struct{ chats ChatReadModel }

// NewGetChat builds the handler.
func NewGetChat(chats ChatReadModel) GetChat { mustHave(chats); return GetChat{chats: chats} }

// Handle returns the chat as the viewer sees it; NotFound if they may not.
func (h GetChat) Handle(ctx context.Context, v Viewer, chatID int64) (ChatSummary, error) {
	if chatID <= 0 {
		return ChatSummary{}, errs.NotFoundf("chat %d not found", chatID)
	}
	return h.chats.ChatSummary(ctx, v.WorkspaceID, chatID, v.UserID)
}

// ListMembers answers GET /chats/{id}/members.
type ListMembers struct{ chats ChatReadModel }

// NewListMembers builds the handler.
func NewListMembers(chats ChatReadModel) ListMembers {
	mustHave(chats)
	return ListMembers{chats: chats}
}

// Handle lists the members of a chat the viewer can see.
func (h ListMembers) Handle(ctx context.Context, v Viewer, chatID int64) ([]Member, error) {
	if _, err := (GetChat{chats: h.chats}).Handle(ctx, v, chatID); err != nil {
		return nil, err
	}
	return h.chats.Members(ctx, chatID)
}
