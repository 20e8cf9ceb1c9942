package memory

import (
	"context"
	"slices"
	"time"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.ChatRepository = (*ChatRepo)(nil)

// chatRow is a stored chat with its members in join order, the ids of
// its messages by seq (msgs[seq-1]) and its receipt moves, oldest first
// (they go with the chat, as ON DELETE CASCADE does in Postgres).
type chatRow struct {
	id, workspaceID      int64
	typ                  chat.Type
	name, description    string
	ownerID              int64
	directKey            string
	lastSeq              int64
	createdAt, updatedAt time.Time
	members              []chat.Membership
	msgs                 []int64
	moves                []receiptMoveRow
}

type directKey struct {
	workspaceID int64
	key         string
}

func (c *chatRow) member(userID int64) int {
	for i := range c.members {
		if c.members[i].UserID == userID {
			return i
		}
	}
	return -1
}

func (s *Store) chatOf(c *chatRow) *chat.Chat {
	return chat.UnmarshalFromDatabase(c.id, c.workspaceID, c.typ, c.name, c.description, c.ownerID,
		slices.Clone(c.members), c.lastSeq, c.createdAt, c.updatedAt, s.limits)
}

func (s *Store) joinIndex(userID, chatID int64) {
	cs, ok := s.userChats[userID]
	if !ok {
		cs = make(map[int64]struct{})
		s.userChats[userID] = cs
	}
	cs[chatID] = struct{}{}
}

func (s *Store) leaveIndex(userID, chatID int64) {
	delete(s.userChats[userID], chatID)
}

// ChatRepo is the ports.ChatRepository of a Store.
type ChatRepo struct{ s *Store }

func (r *ChatRepo) Create(ctx context.Context, c *chat.Chat) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	if _, ok := s.workspaces[c.WorkspaceID()]; !ok {
		return errs.NotFoundf("workspace %d not found", c.WorkspaceID())
	}
	members := c.Members()
	for _, m := range members {
		if _, ok := s.users[m.UserID]; !ok {
			return errs.NotFoundf("user %d not found", m.UserID)
		}
	}
	dk := directKey{c.WorkspaceID(), c.DirectKey()}
	if dk.key != "" {
		if _, taken := s.directs[dk]; taken {
			return errs.Conflictf("a direct chat between these users already exists")
		}
	}
	s.ids.chat++
	row := &chatRow{id: s.ids.chat, workspaceID: c.WorkspaceID(), typ: c.Type(), name: c.Name(),
		description: c.Description(), ownerID: c.OwnerID(), directKey: dk.key, lastSeq: c.LastSeq(),
		createdAt: c.CreatedAt(), updatedAt: c.UpdatedAt(), members: members}
	s.insertChat(t, row)
	c.SetID(row.id)
	return nil
}

// insertChat stores row and indexes it, with its undo.
func (s *Store) insertChat(t *tx, row *chatRow) {
	s.chats[row.id] = row
	if row.directKey != "" {
		s.directs[directKey{row.workspaceID, row.directKey}] = row.id
	}
	for _, m := range row.members {
		s.joinIndex(m.UserID, row.id)
	}
	t.onRollback(func() {
		delete(s.chats, row.id)
		if row.directKey != "" {
			delete(s.directs, directKey{row.workspaceID, row.directKey})
		}
		for _, m := range row.members {
			s.leaveIndex(m.UserID, row.id)
		}
	})
}

// Get loads a chat. Inside a transaction the whole store is locked anyway.
func (r *ChatRepo) Get(ctx context.Context, id int64) (*chat.Chat, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	c, ok := s.chats[id]
	if !ok {
		return nil, errs.NotFoundf("chat %d not found", id)
	}
	return s.chatOf(c), nil
}

func (r *ChatRepo) FindDirect(ctx context.Context, workspaceID int64, key string) (*chat.Chat, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	id, ok := s.directs[directKey{workspaceID, key}]
	if !ok {
		return nil, errs.NotFoundf("no direct chat %s", key)
	}
	return s.chatOf(s.chats[id]), nil
}

func (r *ChatRepo) SaveInfo(ctx context.Context, c *chat.Chat) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	row, ok := s.chats[c.ID()]
	if !ok {
		return errs.NotFoundf("chat %d not found", c.ID())
	}
	name, desc, owner, updated := row.name, row.description, row.ownerID, row.updatedAt
	row.name, row.description, row.ownerID, row.updatedAt = c.Name(), c.Description(), c.OwnerID(), c.UpdatedAt()
	t.onRollback(func() { row.name, row.description, row.ownerID, row.updatedAt = name, desc, owner, updated })
	return nil
}

// AddMembers appends ms; a user already in the chat is errs.Conflict.
func (r *ChatRepo) AddMembers(ctx context.Context, chatID int64, ms []chat.Membership) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	row, ok := s.chats[chatID]
	if !ok {
		return errs.NotFoundf("chat %d not found", chatID)
	}
	for i, m := range ms {
		if _, ok := s.users[m.UserID]; !ok {
			return errs.NotFoundf("user %d not found", m.UserID)
		}
		if row.member(m.UserID) >= 0 || slices.ContainsFunc(ms[:i], func(o chat.Membership) bool { return o.UserID == m.UserID }) {
			return errs.Conflictf("user %d is already a member of chat %d", m.UserID, chatID)
		}
	}
	n := len(row.members)
	row.members = append(row.members, ms...)
	for _, m := range ms {
		s.joinIndex(m.UserID, chatID)
	}
	t.onRollback(func() {
		for _, m := range row.members[n:] {
			s.leaveIndex(m.UserID, chatID)
		}
		row.members = row.members[:n]
	})
	return nil
}

func (r *ChatRepo) RemoveMember(ctx context.Context, chatID, userID int64) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	row, i, err := s.memberRow(chatID, userID)
	if err != nil {
		return err
	}
	m := row.members[i]
	row.members = slices.Delete(row.members, i, i+1)
	s.leaveIndex(userID, chatID)
	t.onRollback(func() {
		row.members = slices.Insert(row.members, i, m)
		s.joinIndex(userID, chatID)
	})
	return nil
}

func (r *ChatRepo) SetRole(ctx context.Context, chatID, userID int64, role chat.Role) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	row, i, err := s.memberRow(chatID, userID)
	if err != nil {
		return err
	}
	old := row.members[i].Role
	row.members[i].Role = role
	t.onRollback(func() { row.members[i].Role = old })
	return nil
}

// Delete removes the chat with its members and messages.
func (r *ChatRepo) Delete(ctx context.Context, chatID int64) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	row, ok := s.chats[chatID]
	if !ok {
		return errs.NotFoundf("chat %d not found", chatID)
	}
	delete(s.chats, chatID)
	if row.directKey != "" {
		delete(s.directs, directKey{row.workspaceID, row.directKey})
	}
	for _, m := range row.members {
		s.leaveIndex(m.UserID, chatID)
	}
	var dropped []*messageRow
	if t != nil {
		dropped = make([]*messageRow, 0, len(row.msgs))
	}
	for _, id := range row.msgs {
		m := s.dropMessage(id)
		if t != nil {
			dropped = append(dropped, m)
		}
	}
	t.onRollback(func() {
		s.chats[chatID] = row
		if row.directKey != "" {
			s.directs[directKey{row.workspaceID, row.directKey}] = chatID
		}
		for _, m := range row.members {
			s.joinIndex(m.UserID, chatID)
		}
		for _, m := range dropped {
			s.putMessage(m)
		}
	})
	return nil
}

func (r *ChatRepo) Membership(ctx context.Context, chatID, userID int64) (chat.Membership, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return chat.Membership{}, err
	}
	defer s.leave(t)
	if row, ok := s.chats[chatID]; ok {
		if i := row.member(userID); i >= 0 {
			return row.members[i], nil
		}
	}
	return chat.Membership{}, errs.NotFoundf("user %d is not a member of chat %d", userID, chatID)
}

// memberRow finds chatID's row and userID's index in its members; the
// caller holds the lock.
func (s *Store) memberRow(chatID, userID int64) (*chatRow, int, error) {
	row, ok := s.chats[chatID]
	if !ok {
		return nil, -1, errs.NotFoundf("chat %d not found", chatID)
	}
	i := row.member(userID)
	if i < 0 {
		return nil, -1, errs.NotFoundf("user %d is not a member of chat %d", userID, chatID)
	}
	return row, i, nil
}
