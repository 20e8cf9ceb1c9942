// Package query holds the read side: one query per file, each with the small
// read-model port it needs and the result it returns. Results are the
// objects of API.md, JSON tags included, so every inbound adapter and every
// event payload shows them the same way.
package query

import (
	"time"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/identity"
	"github.com/fechatter/fechatter/domain/message"
)

// User is the API's User object, plus (an addition) the user's role in the
// workspace, so clients know who may create invites.
type User struct {
	ID          int64                  `json:"id"`
	WorkspaceID int64                  `json:"workspace_id"`
	Email       string                 `json:"email"`
	Fullname    string                 `json:"fullname"`
	Role        identity.WorkspaceRole `json:"role"`
	CreatedAt   time.Time              `json:"created_at"`
}

// UserOf maps a domain user.
func UserOf(u identity.User) User {
	return User{ID: u.ID, WorkspaceID: u.WorkspaceID, Email: u.Email, Fullname: u.Fullname, Role: u.Role, CreatedAt: u.CreatedAt.UTC()}
}

// Workspace is the API's Workspace object.
type Workspace struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	OwnerID   int64     `json:"owner_id"`
	CreatedAt time.Time `json:"created_at"`
}

// WorkspaceOf maps a domain workspace.
func WorkspaceOf(w identity.Workspace) Workspace {
	return Workspace{ID: w.ID, Name: w.Name, OwnerID: w.OwnerID, CreatedAt: w.CreatedAt.UTC()}
}

// Chat is the API's Chat object. OwnerID is null for direct chats.
type Chat struct {
	ID          int64     `json:"id"`
	WorkspaceID int64     `json:"workspace_id"`
	Type        chat.Type `json:"type"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	OwnerID     *int64    `json:"owner_id"`
	MemberCount int       `json:"member_count"`
	LastSeq     int64     `json:"last_seq"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ChatOf maps a chat aggregate.
func ChatOf(c *chat.Chat) Chat {
	out := Chat{ID: c.ID(), WorkspaceID: c.WorkspaceID(), Type: c.Type(), Name: c.Name(),
		Description: c.Description(), MemberCount: c.MemberCount(), LastSeq: c.LastSeq(),
		CreatedAt: c.CreatedAt().UTC(), UpdatedAt: c.UpdatedAt().UTC()}
	if id := c.OwnerID(); id != 0 {
		out.OwnerID = &id
	}
	return out
}

// ChatSummary is a Chat as one user sees it. Role is null when the caller is
// not a member (a public channel seen from outside).
type ChatSummary struct {
	Chat
	Role             *chat.Role `json:"role"`
	UnreadCount      int64      `json:"unread_count"`
	MentionCount     int64      `json:"mention_count"`
	LastReadSeq      int64      `json:"last_read_seq"`
	LastDeliveredSeq int64      `json:"last_delivered_seq"`
	LastMessage      *Message   `json:"last_message"`
}

// Member is the API's Member object.
type Member struct {
	UserID           int64     `json:"user_id"`
	Role             chat.Role `json:"role"`
	JoinedAt         time.Time `json:"joined_at"`
	LastDeliveredSeq int64     `json:"last_delivered_seq"`
	LastReadSeq      int64     `json:"last_read_seq"`
}

// MemberOf maps a membership.
func MemberOf(m chat.Membership) Member {
	return Member{UserID: m.UserID, Role: m.Role, JoinedAt: m.JoinedAt.UTC(),
		LastDeliveredSeq: m.LastDeliveredSeq, LastReadSeq: m.LastReadSeq}
}

// Message is the API's Message object. Optional fields are null when unset.
type Message struct {
	ID             int64      `json:"id"`
	ChatID         int64      `json:"chat_id"`
	Seq            int64      `json:"seq"`
	SenderID       int64      `json:"sender_id"`
	Content        string     `json:"content"`
	ReplyToID      *int64     `json:"reply_to_id"`
	IdempotencyKey *string    `json:"idempotency_key"`
	CreatedAt      time.Time  `json:"created_at"`
	EditedAt       *time.Time `json:"edited_at"`
	DeletedAt      *time.Time `json:"deleted_at"`

	// Issue 14 (files.go): never null, empty when there are none.
	Attachments  []File     `json:"attachments"`
	Reactions    []Reaction `json:"reactions"`
	Mentions     []int64    `json:"mentions"`
	MentionsAll  bool       `json:"mentions_all"`
	ThreadRootID *int64     `json:"thread_root_id"`
	ReplyCount   int        `json:"reply_count"`
	LastReplyAt  *time.Time `json:"last_reply_at"`
}

// MessageOf maps a message aggregate.
func MessageOf(m *message.Message) Message {
	out := Message{ID: m.ID(), ChatID: m.ChatID(), Seq: m.Seq(), SenderID: m.SenderID(),
		Content: m.Content(), CreatedAt: m.CreatedAt().UTC()}.WithEmptyLists()
	if id := m.ThreadRootID(); id != 0 {
		out.ThreadRootID = &id
	}
	if id := m.ReplyToID(); id != 0 {
		out.ReplyToID = &id
	}
	if k := m.IdempotencyKey(); k != "" {
		out.IdempotencyKey = &k
	}
	if t := m.EditedAt(); !t.IsZero() {
		t = t.UTC()
		out.EditedAt = &t
	}
	if t := m.DeletedAt(); !t.IsZero() {
		t = t.UTC()
		out.DeletedAt = &t
	}
	return out
}
