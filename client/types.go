package client

import (
	"encoding/json"
	"time"

	"github.com/fechatter/fechatter/api"
)

// The API's objects and frame data, defined once in package api (which
// documents them) and re-exported here so that callers of this package
// need not import it.
type (
	User          = api.User
	Workspace     = api.Workspace
	Session       = api.AuthResult // the answer of signup, signin and refresh
	Invite        = api.Invite
	Chat          = api.Chat
	ChatSummary   = api.ChatSummary
	Member        = api.Member
	Message       = api.Message
	Messages      = api.Messages
	Receipt       = api.Receipt
	Presence      = api.Presence
	SearchHit     = api.SearchHit
	SearchResults = api.SearchResults
	Hello         = api.Hello
	HelloChat     = api.HelloChat
	ReceiptUpdate = api.ReceiptFrame // receipt.updated (the last mover, and every mover in receipts)
	TypingUpdate  = api.TypingUpdate
)

// Chat types.
const (
	Direct         = api.Direct
	Group          = api.Group
	PrivateChannel = api.PrivateChannel
	PublicChannel  = api.PublicChannel
)

// Server frame types (the "type" of a frame the server sends).
const (
	FrameHello           = api.FrameHello
	FrameMessageCreated  = api.FrameMessageCreated
	FrameMessageUpdated  = api.FrameMessageUpdated
	FrameMessageDeleted  = api.FrameMessageDeleted
	FrameReceiptUpdated  = api.FrameReceiptUpdated
	FramePresenceUpdated = api.FramePresenceUpdated
	FrameTypingUpdated   = api.FrameTypingUpdated
	FrameChatCreated     = api.FrameChatCreated
	FrameChatUpdated     = api.FrameChatUpdated
	FrameChatDeleted     = api.FrameChatDeleted
	FrameMemberAdded     = api.FrameMemberAdded
	FrameMemberRemoved   = api.FrameMemberRemoved
	FrameAck             = api.FrameAck
	FrameError           = api.FrameError
	FramePong            = api.FramePong
)

// NewChat is the body of POST /chats.
type NewChat struct {
	Type        string  `json:"type"`
	Name        string  `json:"name,omitempty"`
	Description string  `json:"description,omitempty"`
	MemberIDs   []int64 `json:"member_ids"`
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

// SearchQuery is GET /search/messages. ChatID 0 searches every chat of the
// caller; Limit 0 is the server's default (20).
type SearchQuery struct {
	Q      string
	ChatID int64
	Limit  int
	Offset int
}

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
