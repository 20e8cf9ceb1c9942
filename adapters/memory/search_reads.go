package memory

import (
	"context"
	"slices"

	"github.com/fechatter/fechatter/application/event"
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

// MemberChatIDsOf lists the chats of each of userIDs, ascending.
func (r *MessageReadModel) MemberChatIDsOf(ctx context.Context, userIDs []int64) (map[int64][]int64, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	out := make(map[int64][]int64, len(userIDs))
	for _, u := range userIDs {
		if len(s.userChats[u]) == 0 {
			continue
		}
		ids := make([]int64, 0, len(s.userChats[u]))
		for id := range s.userChats[u] {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		out[u] = ids
	}
	return out, nil
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
			out = append(out, m.show())
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
	return s.searchDocuments(ids), nil
}

var _ event.DocumentLoader = (*MessageReadModel)(nil)

// SearchDocumentsByID builds the documents of the live messages among ids.
func (r *MessageReadModel) SearchDocumentsByID(ctx context.Context, ids []int64) ([]ports.SearchDocument, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	return s.searchDocuments(ids), nil
}

// MessagesMentioning lists the live messages of chatID that mention
// userID.
func (r *MessageReadModel) MessagesMentioning(ctx context.Context, chatID, userID int64) ([]int64, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	ids := []int64{}
	if c, ok := s.chats[chatID]; ok {
		for _, id := range c.msgs {
			if m := s.messages[id]; m.deletedAt.IsZero() && slices.Contains(m.mentions, userID) {
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// searchDocuments builds the documents of the live messages among ids:
// content, attachments' names (when the store has a FileRepo) and the
// mentioned users' names. The store's lock is held.
func (s *Store) searchDocuments(ids []int64) []ports.SearchDocument {
	var files map[int64][]string
	if s.files != nil {
		files = s.files.names(ids)
	}
	out := make([]ports.SearchDocument, 0, len(ids))
	for _, id := range ids {
		m, ok := s.messages[id]
		if !ok || !m.deletedAt.IsZero() {
			continue
		}
		var ws int64
		if c, ok := s.chats[m.chatID]; ok {
			ws = c.workspaceID
		}
		d := ports.SearchDocument{ID: m.id, ChatID: m.chatID, WorkspaceID: ws, SenderID: m.senderID,
			Seq: m.seq, Content: m.content, FileNames: files[m.id], CreatedAt: m.createdAt}
		for _, uid := range m.mentions {
			if u, ok := s.users[uid]; ok {
				d.MentionNames = append(d.MentionNames, query.SearchNames(u.Fullname, u.Email)...)
			}
		}
		out = append(out, d)
	}
	return out
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
