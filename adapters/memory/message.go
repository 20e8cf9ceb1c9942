package memory

import (
	"context"
	"slices"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.MessageRepository = (*MessageRepo)(nil)

type messageRow struct {
	id, chatID, seq, senderID      int64
	content                        string
	replyToID                      int64
	idempotencyKey                 string
	createdAt, editedAt, deletedAt time.Time

	// Issue 14: mentions (members only, as the sender kept them), the
	// thread a reply belongs to, and a root's reply count and latest reply.
	mentions     []int64
	mentionsAll  bool
	threadRootID int64
	replyCount   int
	lastReplyAt  time.Time
}

type senderKey struct {
	senderID int64
	key      string
}

func (m *messageRow) message() *message.Message {
	out := message.UnmarshalFromDatabase(m.id, m.chatID, m.seq, m.senderID, m.content, m.replyToID,
		m.idempotencyKey, m.createdAt, m.editedAt, m.deletedAt)
	out.SetThreadRoot(m.threadRootID)
	out.SetMentions(message.Mentions{UserIDs: slices.Clone(m.mentions), All: m.mentionsAll})
	return out
}

// show is the row as the read models answer it: the message with its
// thread fields; a deleted message mentions no one.
func (m *messageRow) show() query.Message {
	out := query.MessageOf(m.message())
	out.ReplyCount = m.replyCount
	if !m.lastReplyAt.IsZero() {
		at := m.lastReplyAt.UTC()
		out.LastReplyAt = &at
	}
	if !m.deletedAt.IsZero() {
		out.Mentions, out.MentionsAll = []int64{}, false
	}
	return out
}

// putMessage stores m in the message tables; the chat's seq index is the
// caller's business.
func (s *Store) putMessage(m *messageRow) {
	s.messages[m.id] = m
	if m.idempotencyKey != "" {
		s.msgKeys[senderKey{m.senderID, m.idempotencyKey}] = m.id
	}
}

func (s *Store) dropMessage(id int64) *messageRow {
	m := s.messages[id]
	delete(s.messages, id)
	if m.idempotencyKey != "" {
		delete(s.msgKeys, senderKey{m.senderID, m.idempotencyKey})
	}
	return m
}

// MessageRepo is the ports.MessageRepository of a Store.
type MessageRepo struct{ s *Store }

// Append stores m with the chat's next seq. Outside a transaction it fails,
// as the port requires one.
func (r *MessageRepo) Append(ctx context.Context, m *message.Message) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	if t == nil {
		return errs.New(errs.Internal, "MessageRepository.Append must run inside a transaction")
	}
	c, ok := s.chats[m.ChatID()]
	if !ok {
		return errs.NotFoundf("chat %d not found", m.ChatID())
	}
	if _, ok := s.users[m.SenderID()]; !ok {
		return errs.NotFoundf("user %d not found", m.SenderID())
	}
	if k := m.IdempotencyKey(); k != "" {
		if _, taken := s.msgKeys[senderKey{m.SenderID(), k}]; taken {
			return errs.Wrap(errs.Conflict, ports.ErrDuplicateIdempotencyKey,
				"user %d already sent a message with idempotency key %q", m.SenderID(), k)
		}
	}
	s.ids.message++
	row := &messageRow{id: s.ids.message, chatID: c.id, seq: c.lastSeq + 1, senderID: m.SenderID(),
		content: m.Content(), replyToID: m.ReplyToID(), idempotencyKey: m.IdempotencyKey(),
		createdAt: m.CreatedAt(), editedAt: m.EditedAt(), deletedAt: m.DeletedAt(),
		mentions: slices.Clone(m.Mentions().UserIDs), mentionsAll: m.Mentions().All, threadRootID: m.ThreadRootID()}
	s.putMessage(row)
	c.msgs = append(c.msgs, row.id)
	c.lastSeq = row.seq
	i := c.member(row.senderID)
	var old struct{ read, delivered int64 }
	if i >= 0 {
		mb := &c.members[i]
		old.read, old.delivered = mb.LastReadSeq, mb.LastDeliveredSeq
		mb.LastReadSeq = max(mb.LastReadSeq, row.seq)
		mb.LastDeliveredSeq = max(mb.LastDeliveredSeq, row.seq)
	}
	t.onRollback(func() {
		if i >= 0 {
			c.members[i].LastReadSeq, c.members[i].LastDeliveredSeq = old.read, old.delivered
		}
		c.lastSeq--
		c.msgs = c.msgs[:len(c.msgs)-1]
		s.dropMessage(row.id)
	})
	if i >= 0 {
		s.addSenderMoves(t, c, row.senderID, old.delivered, old.read, row.seq, row.createdAt)
	}
	m.Assign(row.id, row.seq)
	return nil
}

func (r *MessageRepo) ByIdempotencyKey(ctx context.Context, senderID int64, key string) (*message.Message, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	id, ok := s.msgKeys[senderKey{senderID, key}]
	if !ok || key == "" {
		return nil, errs.NotFoundf("no message with that idempotency key")
	}
	return s.messages[id].message(), nil
}

func (r *MessageRepo) BySeq(ctx context.Context, chatID, seq int64) (*message.Message, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	if m := s.bySeq(chatID, seq); m != nil {
		return m.message(), nil
	}
	return nil, errs.NotFoundf("message %d of chat %d not found", seq, chatID)
}

func (s *Store) bySeq(chatID, seq int64) *messageRow {
	c, ok := s.chats[chatID]
	if !ok || seq < 1 || seq > int64(len(c.msgs)) {
		return nil
	}
	return s.messages[c.msgs[seq-1]]
}

func (r *MessageRepo) ByID(ctx context.Context, id int64) (*message.Message, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	m, ok := s.messages[id]
	if !ok {
		return nil, errs.NotFoundf("message %d not found", id)
	}
	return m.message(), nil
}

func (r *MessageRepo) Save(ctx context.Context, m *message.Message) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	row, ok := s.messages[m.ID()]
	if !ok {
		return errs.NotFoundf("message %d not found", m.ID())
	}
	old := *row
	row.content, row.editedAt, row.deletedAt = m.Content(), m.EditedAt(), m.DeletedAt()
	row.mentions, row.mentionsAll = slices.Clone(m.Mentions().UserIDs), m.Mentions().All
	t.onRollback(func() { *row = old })
	return nil
}

var _ ports.MessageSender = (*MessageRepo)(nil)

// Send is the whole write of a send in one transaction: replay by key
// first, then membership, the reply target, the message and its events.
func (r *MessageRepo) Send(ctx context.Context, m *message.Message, events ports.MessageEvents) (ports.Sent, error) {
	var sent ports.Sent
	err := r.s.InTx(ctx, func(ctx context.Context) error {
		if k := m.IdempotencyKey(); k != "" {
			if prior, err := r.ByIdempotencyKey(ctx, m.SenderID(), k); err == nil {
				sent = ports.Sent{Message: prior, Replay: true}
				return nil
			}
		}
		if !r.isMember(m.ChatID(), m.SenderID()) {
			return errs.NotFoundf("chat %d not found", m.ChatID())
		}
		var root *messageRow
		if id := m.ReplyToID(); id != 0 {
			parent, err := r.ByID(ctx, id)
			if err != nil || parent.ChatID() != m.ChatID() {
				return errs.Invalidf("reply_to_id %d is not a message of chat %d", id, m.ChatID())
			}
			rootID, err := message.ThreadRootFor(m.ChatID(), parent)
			if err != nil {
				return err
			}
			m.SetThreadRoot(rootID)
			root = r.s.messages[rootID]
		}
		// Mentions of users who are not members are text.
		m.SetMentions(m.Mentions().OnlyMembers(func(id int64) bool { return r.isMember(m.ChatID(), id) }))
		if len(m.AttachmentIDs()) > 0 && r.s.files == nil {
			return errs.Invalidf("attachments are not supported")
		}
		if err := r.Append(ctx, m); err != nil {
			return err
		}
		if len(m.AttachmentIDs()) > 0 {
			if err := r.s.files.attach(r.s.txOf(ctx), m); err != nil {
				return err
			}
		}
		if root != nil {
			r.s.countReply(ctx, root, m)
		}
		sent = ports.Sent{Message: m}
		return r.s.Outbox().Add(ctx, events(m)...)
	})
	return sent, err
}

// countReply adds reply m to the thread of root, inside the send's
// transaction (the store's lock held), and tells m the thread's new state.
func (s *Store) countReply(ctx context.Context, root *messageRow, m *message.Message) {
	t := s.txOf(ctx)
	old := *root
	root.replyCount++
	if m.CreatedAt().After(root.lastReplyAt) {
		root.lastReplyAt = m.CreatedAt()
	}
	if t != nil {
		t.onRollback(func() { root.replyCount, root.lastReplyAt = old.replyCount, old.lastReplyAt })
	}
	m.SetThread(message.ThreadState{RootID: root.id, RootSeq: root.seq, ReplyCount: root.replyCount, LastReplyAt: root.lastReplyAt})
}

// isMember must run inside a transaction (the store's lock held).
func (r *MessageRepo) isMember(chatID, userID int64) bool {
	c, ok := r.s.chats[chatID]
	return ok && c.member(userID) >= 0
}
