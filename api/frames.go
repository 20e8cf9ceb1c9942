package api

import "encoding/json"

// WebSocket frames. A server frame is {"type": T, "data": D}; a client
// frame is {"type": T, ...fields}. Each frame type is listed once below with
// the Go type of its data (server) or fields (client); openapi.json carries
// their JSON Schemas (components "ws.server.<type>" and "ws.client.<type>")
// and the test harnesses validate every frame they see against them.

// Frame describes one frame type.
type Frame struct {
	Type string
	Data any // a value of the data (server) or fields (client) type
	Doc  string
}

// Server frame types.
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

// Client frame types.
const (
	FramePing      = "ping"
	FrameSend      = "message.send"
	FrameTyping    = "typing"
	FrameDelivered = "delivered"
	FrameRead      = "read"
	FramePresence  = "presence"
)

// ServerFrames is every frame the server sends.
var ServerFrames = []Frame{
	{FrameHello, Hello{}, "first frame after connect"},
	{FrameMessageCreated, Message{}, "to every connection of every member, the sender's included"},
	{FrameMessageUpdated, Message{}, "an edit"},
	{FrameMessageDeleted, MessageDeleted{}, "a deletion"},
	{FrameReceiptUpdated, ReceiptFrame{}, "coalesced per chat (see info.description)"},
	{FramePresenceUpdated, Presence{}, "to users who share a chat with that user"},
	{FrameTypingUpdated, TypingUpdate{}, "not sent to the typist"},
	{FrameChatCreated, Chat{}, "a chat the user is a member of was created"},
	{FrameChatUpdated, Chat{}, "renamed or described"},
	{FrameChatDeleted, ChatDeleted{}, "deleted"},
	{FrameMemberAdded, MemberChange{}, "a member joined or was added"},
	{FrameMemberRemoved, MemberChange{}, "a member left or was removed"},
	{FrameAck, Ack{}, "answer to message.send; replay is true for an idempotent repeat"},
	{FrameError, ErrorFrame{}, "a refused frame (codes as in REST; retry_after_ms with rate_limited)"},
	{FramePong, Pong{}, "answer to ping"},
	{FrameReactionUpdated, ReactionUpdate{}, "a member added or removed a reaction; to every member (reactions change no seq, unread_count or edited_at)"},
	{FrameThreadUpdated, ThreadUpdate{}, "a reply was created or deleted in a thread; to every member"},
	{FrameUserUpdated, User{}, "a user changed their name or avatar; to the members of each chat they share (once per shared chat)"},
}

// ClientFrames is every frame a client may send.
var ClientFrames = []Frame{
	{FramePing, Ping{}, "optional; answered with pong"},
	{FrameSend, SendFrame{}, "send a message; answered with ack or error"},
	{FrameTyping, TypingFrame{}, "start or stop typing"},
	{FrameDelivered, PointerFrame{}, "move the delivered pointer"},
	{FrameRead, PointerFrame{}, "move the read pointer (and delivered)"},
	{FramePresence, PresenceFrame{}, "say the user is online or away"},
}

// Ping is the (empty) fields of ping.
type Ping struct{}

// SendFrame is the fields of message.send. Ref (a string or a number) is
// echoed in the ack or error.
type SendFrame struct {
	Ref            json.RawMessage `json:"ref" schema:"ref"`
	ChatID         int64           `json:"chat_id"`
	Content        string          `json:"content"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	ReplyToID      int64           `json:"reply_to_id,omitempty"`
	AttachmentIDs  []int64         `json:"attachment_ids,omitempty"` // 1..10 of the sender's files; content may then be empty
}

// TypingFrame is the fields of typing.
type TypingFrame struct {
	ChatID   int64 `json:"chat_id"`
	IsTyping bool  `json:"is_typing"`
}

// PointerFrame is the fields of delivered and read.
type PointerFrame struct {
	ChatID int64 `json:"chat_id"`
	Seq    int64 `json:"seq"`
}

// PresenceFrame is the fields of presence.
type PresenceFrame struct {
	Status string `json:"status" enum:"online,away"`
}
