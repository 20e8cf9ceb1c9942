package query

import (
	"context"

	"github.com/fechatter/fechatter/domain/errs"
)

// History limits.
const (
	DefaultMessageLimit = 50
	MaxMessageLimit     = 200
)

// ListMessages answers GET /chats/{id}/messages.
type ListMessages struct {
	members  MembershipChecker
	messages MessageReadModel
	preview  ChatReadModel // nil: members only
	links    *FileLinks    // signs attachments; nil: none
}

// WithFileLinks signs the attachments of the messages it returns.
func (h ListMessages) WithFileLinks(l FileLinks) ListMessages { h.links = &l; return h }

// NewListMessages builds the handler.
func NewListMessages(members MembershipChecker, messages MessageReadModel) ListMessages {
	mustHave(members, messages)
	return ListMessages{members: members, messages: messages}
}

// Handle returns one page of history.
func (h ListMessages) Handle(ctx context.Context, v Viewer, chatID int64, p Page) ([]Message, bool, error) {
	if p.Limit == 0 {
		p.Limit = DefaultMessageLimit
	}
	if p.Limit < 1 || p.Limit > MaxMessageLimit {
		return nil, false, errs.Invalidf("limit must be 1..%d", MaxMessageLimit)
	}
	if p.BeforeSeq < 0 || p.AfterSeq < 0 {
		return nil, false, errs.Invalidf("before_seq and after_seq must not be negative")
	}
	if err := checkReader(ctx, h.members, h.preview, v, chatID); err != nil {
		return nil, false, err
	}
	msgs, more, err := h.messages.ListMessages(ctx, chatID, p)
	if msgs == nil {
		msgs = []Message{}
	}
	if h.links != nil {
		h.links.SignMessages(msgs)
	}
	return msgs, more, err
}

// GetMessage answers GET /chats/{id}/messages/{seq}.
type GetMessage struct {
	members  MembershipChecker
	messages MessageReadModel
	preview  ChatReadModel // nil: members only
	links    *FileLinks    // signs attachments; nil: none
}

// WithFileLinks signs the attachments of the message it returns.
func (h GetMessage) WithFileLinks(l FileLinks) GetMessage { h.links = &l; return h }

// NewGetMessage builds the handler.
func NewGetMessage(members MembershipChecker, messages MessageReadModel) GetMessage {
	mustHave(members, messages)
	return GetMessage{members: members, messages: messages}
}

// Handle returns one message.
func (h GetMessage) Handle(ctx context.Context, v Viewer, chatID, seq int64) (Message, error) {
	if err := checkReader(ctx, h.members, h.preview, v, chatID); err != nil {
		return Message{}, err
	}
	if seq <= 0 {
		return Message{}, errs.NotFoundf("message %d not found in chat %d", seq, chatID)
	}
	m, err := h.messages.MessageBySeq(ctx, chatID, seq)
	if err == nil && h.links != nil {
		h.links.Sign(m.Attachments)
	}
	return m, err
}

func checkMember(ctx context.Context, members MembershipChecker, v Viewer, chatID int64) error {
	if chatID <= 0 {
		return errs.NotFoundf("chat %d not found", chatID)
	}
	_, err := members.Membership(ctx, chatID, v.UserID)
	if errs.Is(err, errs.NotFound) {
		return errs.NotFoundf("chat %d not found", chatID)
	}
	return err
}
