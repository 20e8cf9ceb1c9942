package api

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
