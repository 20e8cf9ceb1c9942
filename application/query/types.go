// Package query holds the read side: one query per file, each with the small
// read-model port it needs and the result it returns. Results are the
// objects of API.md, defined once in package api (aliased here), so every
// inbound adapter, every event payload and the client show them the same
// way.
package query

import (
	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/identity"
	"github.com/fechatter/fechatter/domain/message"
)

// The API objects (package api has their documentation).
type (
	User          = api.User
	Workspace     = api.Workspace
	Chat          = api.Chat
	ChatSummary   = api.ChatSummary
	Member        = api.Member
	Message       = api.Message
	Receipt       = api.Receipt
	Presence      = api.Presence
	SearchHit     = api.SearchHit
	SearchResults = api.SearchResults
)

// ChatPosition is where one of a user's chats stands: what a WebSocket
// hello says of it (chat_id, last_seq) and its member count (the receipt
// rule of large channels). Not an API object.
type ChatPosition struct {
	ChatID      int64
	LastSeq     int64
	MemberCount int
}

// UserOf maps a domain user.
func UserOf(u identity.User) User {
	return User{ID: u.ID, WorkspaceID: u.WorkspaceID, Email: u.Email, Fullname: u.Fullname, Role: string(u.Role), CreatedAt: u.CreatedAt.UTC()}
}

// WorkspaceOf maps a domain workspace.
func WorkspaceOf(w identity.Workspace) Workspace {
	return Workspace{ID: w.ID, Name: w.Name, OwnerID: w.OwnerID, CreatedAt: w.CreatedAt.UTC()}
}

// ChatOf maps a chat aggregate.
func ChatOf(c *chat.Chat) Chat {
	out := Chat{ID: c.ID(), WorkspaceID: c.WorkspaceID(), Type: string(c.Type()), Name: c.Name(),
		Description: c.Description(), MemberCount: c.MemberCount(), LastSeq: c.LastSeq(),
		CreatedAt: c.CreatedAt().UTC(), UpdatedAt: c.UpdatedAt().UTC()}
	if id := c.OwnerID(); id != 0 {
		out.OwnerID = &id
	}
	return out
}

// RoleOf is a member's role as the API spells it, for ChatSummary.Role.
func RoleOf(r chat.Role) *string {
	s := string(r)
	return &s
}

// MemberOf maps a membership.
func MemberOf(m chat.Membership) Member {
	return Member{UserID: m.UserID, Role: string(m.Role), JoinedAt: m.JoinedAt.UTC(),
		LastDeliveredSeq: m.LastDeliveredSeq, LastReadSeq: m.LastReadSeq}
}

// MessageOf maps a message aggregate.
func MessageOf(m *message.Message) Message {
	out := Message{ID: m.ID(), ChatID: m.ChatID(), Seq: m.Seq(), SenderID: m.SenderID(),
		Content: m.Content(), CreatedAt: m.CreatedAt().UTC()}.WithEmptyLists()
	if id := m.ThreadRootID(); id != 0 {
		out.ThreadRootID = &id
	}
	if x := m.Mentions(); len(x.UserIDs) > 0 || x.All {
		out.Mentions, out.MentionsAll = append([]int64{}, x.UserIDs...), x.All
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
