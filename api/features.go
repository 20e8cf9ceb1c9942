package api

import "time"

// Objects of the second round (issue 14) beyond File, Reaction and the
// Message fields in types.go.

// Reactions is the answer of the reaction routes: the message's reactions
// in order of each emoji's first use.
type Reactions struct {
	Reactions []Reaction `json:"reactions"`
}

// ReactionUpdate is the data of reaction.updated.
type ReactionUpdate struct {
	ChatID    int64  `json:"chat_id"`
	Seq       int64  `json:"seq"`
	MessageID int64  `json:"message_id"`
	Emoji     string `json:"emoji"`
	UserID    int64  `json:"user_id"`
	Added     bool   `json:"added"`
	Count     int    `json:"count"`
}

// FrameReactionUpdated is the type of the reaction.updated frame.
const FrameReactionUpdated = "reaction.updated"

// ThreadUpdate is the data of thread.updated: a reply was created or
// deleted in the thread of root_id.
type ThreadUpdate struct {
	ChatID      int64      `json:"chat_id"`
	RootID      int64      `json:"root_id"`
	RootSeq     int64      `json:"root_seq"`
	ReplyCount  int        `json:"reply_count"`
	LastReplyAt *time.Time `json:"last_reply_at"`
}

// FrameThreadUpdated is the type of the thread.updated frame.
const FrameThreadUpdated = "thread.updated"

// FrameUserUpdated is the type of the user.updated frame (data: User).
const FrameUserUpdated = "user.updated"
