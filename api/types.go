package api

import (
	"encoding/json"
	"time"
)

// User is API.md's User object, plus (an addition) the user's role in the
// workspace, so clients know who may create invites.
type User struct {
	ID          int64     `json:"id"`
	WorkspaceID int64     `json:"workspace_id"`
	Email       string    `json:"email"`
	Fullname    string    `json:"fullname"`
	Role        string    `json:"role" enum:"owner,admin,member"`
	CreatedAt   time.Time `json:"created_at"`
	// AvatarURL is a signed link to the avatar's thumbnail, null without.
	AvatarURL *string `json:"avatar_url"`
}

// Workspace is API.md's Workspace object.
type Workspace struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	OwnerID   int64     `json:"owner_id"`
	CreatedAt time.Time `json:"created_at"`
}

// AuthResult is what signup, signin and refresh answer. RefreshToken is
// empty for a web session (the token travels in an HttpOnly cookie).
type AuthResult struct {
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

// Chat is API.md's Chat object. OwnerID is null for direct chats.
type Chat struct {
	ID          int64     `json:"id"`
	WorkspaceID int64     `json:"workspace_id"`
	Type        string    `json:"type" enum:"direct,group,private_channel,public_channel"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	OwnerID     *int64    `json:"owner_id"`
	MemberCount int       `json:"member_count"`
	LastSeq     int64     `json:"last_seq"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ChatSummary is a Chat as one user sees it. Role is null when the caller
// is not a member (a public channel seen from outside).
type ChatSummary struct {
	Chat
	Role             *string  `json:"role" enum:"owner,admin,member"`
	UnreadCount      int64    `json:"unread_count"`
	MentionCount     int64    `json:"mention_count"`
	LastReadSeq      int64    `json:"last_read_seq"`
	LastDeliveredSeq int64    `json:"last_delivered_seq"`
	LastMessage      *Message `json:"last_message"`
}

// Member is API.md's Member object.
type Member struct {
	UserID           int64     `json:"user_id"`
	Role             string    `json:"role" enum:"owner,admin,member"`
	JoinedAt         time.Time `json:"joined_at"`
	LastDeliveredSeq int64     `json:"last_delivered_seq"`
	LastReadSeq      int64     `json:"last_read_seq"`
}

// Message is API.md's Message object. Optional fields are null when unset.
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

	// Second round (files, reactions, mentions, threads): lists are never
	// null, empty when there are none (WithEmptyLists).
	Attachments  []File     `json:"attachments"`
	Reactions    []Reaction `json:"reactions"`
	Mentions     []int64    `json:"mentions"`
	MentionsAll  bool       `json:"mentions_all"`
	ThreadRootID *int64     `json:"thread_root_id"`
	ReplyCount   int        `json:"reply_count"`
	LastReplyAt  *time.Time `json:"last_reply_at"`
}

// WithEmptyLists gives nil lists their empty value, so they encode as [].
func (m Message) WithEmptyLists() Message {
	if m.Attachments == nil {
		m.Attachments = []File{}
	}
	if m.Reactions == nil {
		m.Reactions = []Reaction{}
	}
	if m.Mentions == nil {
		m.Mentions = []int64{}
	}
	return m
}

// File is the API's File object. URL and ThumbnailURL are signed links
// that expire; ThumbnailURL, Width and Height are null for files that are
// not images.
type File struct {
	ID           int64     `json:"id"`
	WorkspaceID  int64     `json:"workspace_id"`
	UploaderID   int64     `json:"uploader_id"`
	Name         string    `json:"name"`
	ContentType  string    `json:"content_type"`
	Size         int64     `json:"size"`
	SHA256       string    `json:"sha256"`
	Width        *int      `json:"width"`
	Height       *int      `json:"height"`
	CreatedAt    time.Time `json:"created_at"`
	URL          string    `json:"url"`
	ThumbnailURL *string   `json:"thumbnail_url"`
}

// Reaction is the API's Reaction object.
type Reaction struct {
	Emoji   string  `json:"emoji"`
	Count   int     `json:"count"`
	UserIDs []int64 `json:"user_ids"`
}

// Receipt is when one member first had a message delivered and read.
type Receipt struct {
	UserID      int64      `json:"user_id"`
	DeliveredAt *time.Time `json:"delivered_at"`
	ReadAt      *time.Time `json:"read_at"`
}

// Presence is API.md's Presence object. LastSeen is null for a user never
// seen.
type Presence struct {
	UserID   int64      `json:"user_id"`
	Status   string     `json:"status" enum:"online,away,offline"`
	LastSeen *time.Time `json:"last_seen"`
	Platform string     `json:"platform"`
}

// SearchHit is one search result. Highlight is the message's content (or
// an excerpt), HTML-escaped, with the matched words between <mark> and
// </mark>; when only names matched, it is the first matching file name or
// mentioned user's name, marked alike. MatchedIn says what matched:
// "content", "attachments" (a file name) and/or "mentions" (the full name
// or email local part of a mentioned user).
type SearchHit struct {
	Message   Message  `json:"message"`
	Highlight string   `json:"highlight"`
	MatchedIn []string `json:"matched_in" enum:"content,attachments,mentions"`
}

// SearchResults is the answer of GET /search/messages.
type SearchResults struct {
	Hits           []SearchHit `json:"hits"`
	EstimatedTotal int         `json:"estimated_total"`
	TookMs         int64       `json:"took_ms"`
}

// List answers.

// Users is the answer of GET /users.
type Users struct {
	Users []User `json:"users"`
}

// Chats is the answer of GET /chats and GET /chats/public.
type Chats struct {
	Chats []ChatSummary `json:"chats"`
}

// Members is the answer of the members routes.
type Members struct {
	Members []Member `json:"members"`
}

// Messages is a page of messages.
type Messages struct {
	Messages []Message `json:"messages"`
	HasMore  bool      `json:"has_more"`
}

// Receipts is the answer of GET /chats/{id}/messages/{seq}/receipts.
type Receipts struct {
	Receipts []Receipt `json:"receipts"`
}

// PresenceList is the answer of GET /presence.
type PresenceList struct {
	Presence []Presence `json:"presence"`
}

// Error is the shape of every error answer (REST).
type Error struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong.
type ErrorDetail struct {
	Code    string `json:"code" enum:"invalid_argument,unauthenticated,forbidden,not_found,conflict,payload_too_large,rate_limited,unavailable,internal"`
	Message string `json:"message"`
}

// WebSocket frame data (server to client).

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

// Ack answers message.send. Ref is the client's ref, echoed verbatim (a
// JSON string or number).
type Ack struct {
	Ref     json.RawMessage `json:"ref" schema:"ref"`
	Message Message         `json:"message"`
	Replay  bool            `json:"replay"`
}

// ErrorFrame is the data of an error frame.
type ErrorFrame struct {
	Ref          json.RawMessage `json:"ref,omitempty" schema:"ref"`
	Code         string          `json:"code" enum:"invalid_argument,unauthenticated,forbidden,not_found,conflict,payload_too_large,rate_limited,unavailable,internal"`
	Message      string          `json:"message"`
	RetryAfterMs int64           `json:"retry_after_ms,omitempty"`
}

// ReceiptUpdate is one member's pointers: the data of receipt.updated.
type ReceiptUpdate struct {
	ChatID           int64 `json:"chat_id"`
	UserID           int64 `json:"user_id"`
	LastDeliveredSeq int64 `json:"last_delivered_seq"`
	LastReadSeq      int64 `json:"last_read_seq"`
}

// ReceiptFrame is the data of a coalesced receipt.updated frame: the last
// mover's pointers (API.md's object) and every member that moved in the
// window with its latest pointers, in the order they first moved.
type ReceiptFrame struct {
	ReceiptUpdate
	Receipts []ReceiptUpdate `json:"receipts"`
}

// TypingUpdate is the data of typing.updated. ExpiresAt is the stop's own
// time when IsTyping is false.
type TypingUpdate struct {
	ChatID    int64     `json:"chat_id"`
	UserID    int64     `json:"user_id"`
	IsTyping  bool      `json:"is_typing"`
	ExpiresAt time.Time `json:"expires_at"`
}

// MessageDeleted is the data of message.deleted.
type MessageDeleted struct {
	ChatID int64 `json:"chat_id"`
	ID     int64 `json:"id"`
	Seq    int64 `json:"seq"`
}

// ChatDeleted is the data of chat.deleted.
type ChatDeleted struct {
	ChatID int64 `json:"chat_id"`
}

// MemberChange is the data of chat.member_added and chat.member_removed.
type MemberChange struct {
	ChatID int64  `json:"chat_id"`
	UserID int64  `json:"user_id"`
	Role   string `json:"role" enum:"owner,admin,member"`
}

// Pong is the data of pong.
type Pong struct{}
