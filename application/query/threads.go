package query

import (
	"context"

	"github.com/fechatter/fechatter/domain/errs"
)

// ThreadReadModel reads threads and mentions.
type ThreadReadModel interface {
	// Replies returns up to limit replies of the thread of root rootID with
	// seq > afterSeq, oldest first, and whether more follow.
	Replies(ctx context.Context, rootID, afterSeq int64, limit int) ([]Message, bool, error)
	// Mentions returns up to limit live messages with id < beforeID (all
	// when 0), newest first, of the chats userID is a member of, that
	// mention userID or all and were not sent by userID; and whether more
	// follow.
	Mentions(ctx context.Context, userID, beforeID int64, limit int) ([]Message, bool, error)
}

// ListReplies answers GET /chats/{id}/messages/{seq}/replies.
type ListReplies struct {
	members  MembershipChecker
	messages MessageReadModel
	threads  ThreadReadModel
	links    FileLinks
}

// NewListReplies builds the handler.
func NewListReplies(members MembershipChecker, messages MessageReadModel, threads ThreadReadModel, links FileLinks) ListReplies {
	mustHave(members, messages, threads)
	return ListReplies{members: members, messages: messages, threads: threads, links: links}
}

// Handle returns one page of a thread's replies, the root excluded.
func (h ListReplies) Handle(ctx context.Context, v Viewer, chatID, rootSeq, afterSeq int64, limit int) ([]Message, bool, error) {
	if limit == 0 {
		limit = DefaultMessageLimit
	}
	if limit < 1 || limit > MaxMessageLimit || afterSeq < 0 {
		return nil, false, errs.Invalidf("limit must be 1..%d and after_seq at least 0", MaxMessageLimit)
	}
	if err := checkMember(ctx, h.members, v, chatID); err != nil {
		return nil, false, err
	}
	if rootSeq <= 0 {
		return nil, false, errs.NotFoundf("message %d not found in chat %d", rootSeq, chatID)
	}
	root, err := h.messages.MessageBySeq(ctx, chatID, rootSeq)
	if err != nil {
		return nil, false, err
	}
	msgs, more, err := h.threads.Replies(ctx, root.ID, afterSeq, limit)
	if msgs == nil {
		msgs = []Message{}
	}
	h.links.SignMessages(msgs)
	return msgs, more, err
}

// ListMentions answers GET /mentions.
type ListMentions struct {
	threads ThreadReadModel
	links   FileLinks
}

// NewListMentions builds the handler.
func NewListMentions(threads ThreadReadModel, links FileLinks) ListMentions {
	mustHave(threads)
	return ListMentions{threads: threads, links: links}
}

// Handle returns one page of the caller's mentions, newest first.
func (h ListMentions) Handle(ctx context.Context, v Viewer, beforeID int64, limit int) ([]Message, bool, error) {
	if limit == 0 {
		limit = DefaultMessageLimit
	}
	if limit < 1 || limit > MaxMessageLimit || beforeID < 0 {
		return nil, false, errs.Invalidf("limit must be 1..%d and before_id positive", MaxMessageLimit)
	}
	msgs, more, err := h.threads.Mentions(ctx, v.UserID, beforeID, limit)
	if msgs == nil {
		msgs = []Message{}
	}
	h.links.SignMessages(msgs)
	return msgs, more, err
}
