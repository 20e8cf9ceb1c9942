package query

import (
	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/domain/message"
)

// File and Reaction are the API's objects (package api).
type (
	File     = api.File
	Reaction = api.Reaction
)

// ReactionsOf maps a reaction set; never nil.
func ReactionsOf(list []message.Reaction) []Reaction {
	out := make([]Reaction, len(list))
	for i, r := range list {
		out[i] = Reaction{Emoji: r.Emoji, Count: len(r.UserIDs), UserIDs: append([]int64(nil), r.UserIDs...)}
	}
	return out
}
