package memory

import (
	"context"
	"slices"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports"
)

var (
	_ query.MemberChats   = (*MessageReadModel)(nil)
	_ query.MessageLookup = (*MessageReadModel)(nil)
)

// MemberChatIDs lists the chats userID belongs to, ascending.
func (r *MessageReadModel) MemberChatIDs(ctx context.Context, userID int64) ([]int64, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	ids := make([]int64, 0, len(s.userChats[userID]))
	for id := range s.userChats[userID] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// MessagesByIDs returns the messages of ids that exist, deleted included.
func (r *MessageReadModel) MessagesByIDs(ctx context.Context, ids []int64) ([]query.Message, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	out := make([]query.Message, 0, len(ids))
	for _, id := range ids {
		if m, ok := s.messages[id]; ok {
			out = append(out, query.MessageOf(m.message()))
		}
	}
	return out, nil
}

// SearchDocuments pages through every live message by id, for reindexing.
func (r *MessageReadModel) SearchDocuments(ctx context.Context, afterID int64, limit int) ([]ports.SearchDocument, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	ids := make([]int64, 0)
	for id, m := range s.messages {
		if id > afterID && m.deletedAt.IsZero() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]ports.SearchDocument, len(ids))
	for i, id := range ids {
		m := s.messages[id]
		var ws int64
		if c, ok := s.chats[m.chatID]; ok {
			ws = c.workspaceID
		}
		out[i] = ports.SearchDocument{ID: m.id, ChatID: m.chatID, WorkspaceID: ws, SenderID: m.senderID,
			Seq: m.seq, Content: m.content, CreatedAt: m.createdAt}
	}
	return out, nil
}

// CountSearchDocuments counts the live messages, for reindex progress.
func (r *MessageReadModel) CountSearchDocuments(ctx context.Context) (int, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer s.leave(t)
	n := 0
	for _, m := range s.messages {
		if m.deletedAt.IsZero() {
			n++
		}
	}
	return n, nil
}
