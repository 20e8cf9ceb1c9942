package memory

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
)

var (
	_ query.ChatReadModel    = (*ChatReadModel)(nil)
	_ query.MessageReadModel = (*MessageReadModel)(nil)
)

// defaultPageLimit is used when a Page asks for no positive limit.
const defaultPageLimit = 50

// ChatReadModel is the query.ChatReadModel of a Store.
type ChatReadModel struct{ s *Store }

// ChatPositions returns userID's chats by id with their last_seq and
// member count.
func (r *ChatReadModel) ChatPositions(ctx context.Context, userID int64) ([]query.ChatPosition, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	out := make([]query.ChatPosition, 0, len(s.userChats[userID]))
	for id := range s.userChats[userID] {
		c := s.chats[id]
		out = append(out, query.ChatPosition{ChatID: c.id, LastSeq: c.lastSeq, MemberCount: len(c.members)})
	}
	slices.SortFunc(out, func(a, b query.ChatPosition) int { return cmp.Compare(a.ChatID, b.ChatID) })
	return out, nil
}

// ListChats returns userID's chats by latest activity: the time of the last
// message, or the chat's updated_at while it has none; newest first, ties
// by id, highest first.
func (r *ChatReadModel) ListChats(ctx context.Context, userID int64) ([]query.ChatSummary, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	type entry struct {
		at  time.Time
		sum query.ChatSummary
	}
	entries := make([]entry, 0, len(s.userChats[userID]))
	for id := range s.userChats[userID] {
		c := s.chats[id]
		at := c.updatedAt
		if last := s.bySeq(c.id, c.lastSeq); last != nil {
			at = last.createdAt
		}
		entries = append(entries, entry{at, s.summary(c, userID)})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return cmp.Compare(b.sum.ID, a.sum.ID)
	})
	out := make([]query.ChatSummary, len(entries))
	for i, e := range entries {
		out[i] = e.sum
	}
	return out, nil
}

// ChatSummary shows a public channel to a non-member of its workspace with
// a null role, no pointers and no unread count.
func (r *ChatReadModel) ChatSummary(ctx context.Context, workspaceID, chatID, userID int64) (query.ChatSummary, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return query.ChatSummary{}, err
	}
	defer s.leave(t)
	c, ok := s.chats[chatID]
	if !ok || c.workspaceID != workspaceID || (c.typ != chat.PublicChannel && c.member(userID) < 0) {
		return query.ChatSummary{}, errs.NotFoundf("chat %d not found", chatID)
	}
	return s.summary(c, userID), nil
}

// PublicChannels lists the workspace's public channels by name.
func (r *ChatReadModel) PublicChannels(ctx context.Context, workspaceID, userID int64, q string, limit int) ([]query.ChatSummary, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	q = strings.ToLower(q)
	var found []*chatRow
	for _, c := range s.chats {
		if c.workspaceID == workspaceID && c.typ == chat.PublicChannel && strings.Contains(strings.ToLower(c.name), q) {
			found = append(found, c)
		}
	}
	slices.SortFunc(found, func(a, b *chatRow) int {
		if n := strings.Compare(a.name, b.name); n != 0 {
			return n
		}
		return cmp.Compare(a.id, b.id)
	})
	out := []query.ChatSummary{}
	for _, c := range found[:min(len(found), max(limit, 0))] {
		out = append(out, s.summary(c, userID))
	}
	return out, nil
}

// summary is c as userID sees it, member or not.
func (s *Store) summary(c *chatRow, userID int64) query.ChatSummary {
	out := query.ChatSummary{Chat: query.Chat{ID: c.id, WorkspaceID: c.workspaceID, Type: string(c.typ), Name: c.name,
		Description: c.description, MemberCount: len(c.members), LastSeq: c.lastSeq,
		CreatedAt: c.createdAt.UTC(), UpdatedAt: c.updatedAt.UTC()}}
	if c.ownerID != 0 {
		owner := c.ownerID
		out.OwnerID = &owner
	}
	if last := s.bySeq(c.id, c.lastSeq); last != nil {
		m := last.show()
		out.LastMessage = &m
	}
	i := c.member(userID)
	if i < 0 {
		return out
	}
	m := c.members[i]
	out.Role = query.RoleOf(m.Role)
	out.LastReadSeq, out.LastDeliveredSeq = m.LastReadSeq, m.LastDeliveredSeq
	for _, id := range c.msgs[min(max(m.LastReadSeq, 0), int64(len(c.msgs))):] {
		if msg := s.messages[id]; msg.senderID != userID && msg.deletedAt.IsZero() {
			out.UnreadCount++
			if msg.mentionsAll || slices.Contains(msg.mentions, userID) {
				out.MentionCount++
			}
		}
	}
	return out
}

// Members lists the members in join order; errs.NotFound if the chat is gone.
func (r *ChatReadModel) Members(ctx context.Context, chatID int64) ([]query.Member, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	c, ok := s.chats[chatID]
	if !ok {
		return nil, errs.NotFoundf("chat %d not found", chatID)
	}
	out := make([]query.Member, len(c.members))
	for i, m := range c.members {
		out[i] = query.MemberOf(m)
	}
	return out, nil
}

// MessageReadModel is the query.MessageReadModel of a Store.
type MessageReadModel struct{ s *Store }

// ListMessages pages by seq as the port says; a limit of 0 or less means 50.
// An unknown chat has no messages.
func (r *MessageReadModel) ListMessages(ctx context.Context, chatID int64, page query.Page) ([]query.Message, bool, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, false, err
	}
	defer s.leave(t)
	c, ok := s.chats[chatID]
	if !ok {
		return nil, false, nil
	}
	limit := int64(page.Limit)
	if limit <= 0 {
		limit = defaultPageLimit
	}
	last := int64(len(c.msgs))
	var out []query.Message
	if page.Forward {
		from := max(page.AfterSeq, 0) + 1
		to := min(last, from+limit-1)
		for seq := from; seq <= to; seq++ {
			out = append(out, s.messages[c.msgs[seq-1]].show())
		}
		return out, to < last, nil
	}
	from := last
	if page.BeforeSeq > 0 {
		from = min(last, page.BeforeSeq-1)
	}
	to := max(from-limit+1, 1)
	for seq := from; seq >= to; seq-- {
		out = append(out, s.messages[c.msgs[seq-1]].show())
	}
	return out, from >= 1 && to > 1, nil
}

func (r *MessageReadModel) MessageBySeq(ctx context.Context, chatID, seq int64) (query.Message, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return query.Message{}, err
	}
	defer s.leave(t)
	m := s.bySeq(chatID, seq)
	if m == nil {
		return query.Message{}, errs.NotFoundf("message %d of chat %d not found", seq, chatID)
	}
	return m.show(), nil
}
