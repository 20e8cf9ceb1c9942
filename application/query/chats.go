package query

import (
	"context"
	"strings"
	"unicode/utf8"

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

// ChatPositions lists where the viewer's chats stand, for a WebSocket hello.
type ChatPositions struct{ chats ChatReadModel }

// NewChatPositions builds the handler.
func NewChatPositions(chats ChatReadModel) ChatPositions {
	mustHave(chats)
	return ChatPositions{chats: chats}
}

// Handle lists the viewer's chats with their last_seq and member count.
func (h ChatPositions) Handle(ctx context.Context, v Viewer) ([]ChatPosition, error) {
	return h.chats.ChatPositions(ctx, v.UserID)
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
	if _, err := GetChat(h).Handle(ctx, v, chatID); err != nil {
		return nil, err
	}
	return h.chats.Members(ctx, chatID)
}

// Channel directory limits.
const (
	DefaultChannelLimit = 50
	MaxChannelLimit     = 200
)

// BrowseChannels answers GET /chats/public: the workspace's public
// channels, to find one to join.
type BrowseChannels struct{ chats ChatReadModel }

// NewBrowseChannels builds the handler.
func NewBrowseChannels(chats ChatReadModel) BrowseChannels {
	mustHave(chats)
	return BrowseChannels{chats: chats}
}

// Handle lists public channels whose name contains q.
func (h BrowseChannels) Handle(ctx context.Context, v Viewer, q string, limit int) ([]ChatSummary, error) {
	q = strings.TrimSpace(q)
	if !utf8.ValidString(q) || utf8.RuneCountInString(q) > chat.MaxNameLen {
		return nil, errs.Invalidf("q must be at most %d characters", chat.MaxNameLen)
	}
	if limit == 0 {
		limit = DefaultChannelLimit
	}
	if limit < 1 || limit > MaxChannelLimit {
		return nil, errs.Invalidf("limit must be 1..%d", MaxChannelLimit)
	}
	cs, err := h.chats.PublicChannels(ctx, v.WorkspaceID, v.UserID, q, limit)
	if cs == nil {
		cs = []ChatSummary{}
	}
	return cs, err
}
