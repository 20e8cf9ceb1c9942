package client

import (
	"encoding/json"
	"time"
)

// User is API.md's User.
type User struct {
	ID          int64     `json:"id"`
	WorkspaceID int64     `json:"workspace_id"`
	Email       string    `json:"email"`
	Fullname    string    `json:"fullname"`
	CreatedAt   time.Time `json:"created_at"`
}

// Workspace is API.md's Workspace.
type Workspace struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	OwnerID   int64     `json:"owner_id"`
	CreatedAt time.Time `json:"created_at"`
}

// Session is the answer of signup, signin and refresh.
type Session struct {
	User         User      `json:"user"`
	Workspace    Workspace `json:"workspace"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	ExpiresIn    int       `json:"expires_in"` // seconds
}

// Invite is the answer of POST /workspace/invites.
type Invite struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
	MaxUses   int       `json:"max_uses"`
}

// Chat types.
const (
	Direct         = "direct"
	Group          = "group"
	PrivateChannel = "private_channel"
	PublicChannel  = "public_channel"
)

// Chat is API.md's Chat. OwnerID is nil for direct chats.
type Chat struct {
	ID          int64     `json:"id"`
	WorkspaceID int64     `json:"workspace_id"`
	Type        string    `json:"type"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	OwnerID     *int64    `json:"owner_id"`
	MemberCount int       `json:"member_count"`
	LastSeq     int64     `json:"last_seq"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ChatSummary is a Chat as the caller sees it.
type ChatSummary struct {
	Chat
	Role             *string  `json:"role"`
	UnreadCount      int64    `json:"unread_count"`
	LastReadSeq      int64    `json:"last_read_seq"`
	LastDeliveredSeq int64    `json:"last_delivered_seq"`
	LastMessage      *Message `json:"last_message"`
}

// NewChat is the body of POST /chats.
type NewChat struct {
	Type        string  `json:"type"`
	Name        string  `json:"name,omitempty"`
	Description string  `json:"description,omitempty"`
	MemberIDs   []int64 `json:"member_ids"`
}

// Member is API.md's Member.
type Member struct {
	UserID           int64     `json:"user_id"`
	Role             string    `json:"role"`
	JoinedAt         time.Time `json:"joined_at"`
	LastDeliveredSeq int64     `json:"last_delivered_seq"`
	LastReadSeq      int64     `json:"last_read_seq"`
}

// Message is API.md's Message.
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
}

// NewMessage is what Send sends. IdempotencyKey (1..64 characters) makes
// retries safe: the server keeps exactly one message per key and sender.
type NewMessage struct {
	Content        string `json:"content"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	ReplyToID      int64  `json:"reply_to_id,omitempty"`
}

// Page selects a page of a chat's history. Forward pages oldest first
// from after Seq (Seq 0: from the first message, as after_seq=0); else
// newest first before Seq (Seq 0: the newest page). Limit 0 is the
// server's default (50).
type Page struct {
	Seq     int64
	Forward bool
	Limit   int
}

// Messages is a page of history.
type Messages struct {
	Messages []Message `json:"messages"`
	HasMore  bool      `json:"has_more"`
}

// SearchQuery is GET /search/messages. ChatID 0 searches every chat of the
// caller; Limit 0 is the server's default (20).
type SearchQuery struct {
	Q      string
	ChatID int64
	Limit  int
	Offset int
}

// SearchHit is one search result.
type SearchHit struct {
	Message   Message `json:"message"`
	Highlight string  `json:"highlight"`
}

// SearchResults is the answer of a search.
type SearchResults struct {
	Hits           []SearchHit `json:"hits"`
	EstimatedTotal int         `json:"estimated_total"`
	TookMs         int64       `json:"took_ms"`
}

// Presence is API.md's Presence.
type Presence struct {
	UserID   int64     `json:"user_id"`
	Status   string    `json:"status"`
	LastSeen time.Time `json:"last_seen"`
	Platform string    `json:"platform"`
}

// Hello is the first frame of a WebSocket connection.
type Hello struct {
	UserID              int64       `json:"user_id"`
	SessionID           string      `json:"session_id"`
	HeartbeatIntervalMs int64       `json:"heartbeat_interval_ms"`
	Chats               []HelloChat `json:"chats"`
}

// HelloChat is a chat of the user and its last seq when the socket opened:
// where to start catching up.
type HelloChat struct {
	ChatID  int64 `json:"chat_id"`
	LastSeq int64 `json:"last_seq"`
}

// ReceiptUpdate is the data of receipt.updated.
type ReceiptUpdate struct {
	ChatID           int64 `json:"chat_id"`
	UserID           int64 `json:"user_id"`
	LastDeliveredSeq int64 `json:"last_delivered_seq"`
	LastReadSeq      int64 `json:"last_read_seq"`
}

// TypingUpdate is the data of typing.updated.
type TypingUpdate struct {
	ChatID    int64     `json:"chat_id"`
	UserID    int64     `json:"user_id"`
	IsTyping  bool      `json:"is_typing"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Server frame types (the "type" of a frame the server sends).
const (
	FrameHello           = "hello"
	FrameMessageCreated  = "message.created"
	FrameMessageUpdated  = "message.updated"
	FrameMessageDeleted  = "message.deleted"
	FrameReceiptUpdated  = "receipt.updated"
	FramePresenceUpdated = "presence.updated"
	FrameTypingUpdated   = "typing.updated"
	FrameChatCreated     = "chat.created"
	FrameChatUpdated     = "chat.updated"
	FrameChatDeleted     = "chat.deleted"
	FrameMemberAdded     = "chat.member_added"
	FrameMemberRemoved   = "chat.member_removed"
	FrameAck             = "ack"
	FrameError           = "error"
	FramePong            = "pong"
)

// Frame is one frame from the server, with the time it was read.
type Frame struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	// At is when the client read the frame off the socket.
	At time.Time `json:"-"`
}

// Decode decodes the frame's data into v (a Message for message.created,
// a ReceiptUpdate for receipt.updated, ...).
func (f Frame) Decode(v any) error { return json.Unmarshal(f.Data, v) }
