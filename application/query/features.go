package query

import (
	"time"

	"github.com/fechatter/fechatter/domain/message"
)

// File is the API's File object. URL and ThumbnailURL are signed links
// that expire (FileLinks); ThumbnailURL, Width and Height are null for
// files that are not images.
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

// ReactionsOf maps a reaction set; never nil.
func ReactionsOf(list []message.Reaction) []Reaction {
	out := make([]Reaction, len(list))
	for i, r := range list {
		out[i] = Reaction{Emoji: r.Emoji, Count: len(r.UserIDs), UserIDs: append([]int64(nil), r.UserIDs...)}
	}
	return out
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
