package ports

import (
	"context"
	"time"
)

// SearchDocument is one message as the search index holds it. ID is the
// message id and the document's key: writing the same ID again replaces the
// document. A query matches a document when each of its words is found in
// Content, FileNames or MentionNames (not necessarily the same one).
type SearchDocument struct {
	ID          int64  `json:"id"`
	ChatID      int64  `json:"chat_id"`
	WorkspaceID int64  `json:"workspace_id"`
	SenderID    int64  `json:"sender_id"`
	Seq         int64  `json:"seq"`
	Content     string `json:"content"`
	// FileNames are the names of the message's attachments.
	FileNames []string `json:"file_names,omitempty"`
	// MentionNames name the users the message mentions: each one's full
	// name and the local part of their email (the handle people type),
	// as they were when the message was indexed.
	MentionNames []string  `json:"mention_names,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// The parts of a document a query can match, as SearchHit.Matched names
// them (and the API's matched_in).
const (
	SearchFieldContent     = "content"
	SearchFieldAttachments = "attachments" // FileNames
	SearchFieldMentions    = "mentions"    // MentionNames
)

// SearchQuery asks the index for messages matching Text within some chats.
type SearchQuery struct {
	// Text is the user's query; words match by prefix and with a typo.
	Text string
	// ChatIDs are the chats the caller may read. Empty means no hits: an
	// index never searches without this filter.
	ChatIDs []int64
	// ChatID, when not 0, narrows the search to that one chat; it must be
	// one of ChatIDs, otherwise there are no hits.
	ChatID int64
	// Limit is the page size (0 or less means DefaultSearchLimit).
	Limit int
	// Offset is how many hits to skip.
	Offset int
}

// DefaultSearchLimit is the page size of a SearchQuery without Limit.
const DefaultSearchLimit = 20

// SearchHit is one matching message.
type SearchHit struct {
	MessageID int64
	ChatID    int64
	Seq       int64
	// Highlight is the message content, or an excerpt of it, HTML-escaped,
	// with the matched words between <mark> and </mark>. When the content
	// did not match, it is the first matching file name or mention name,
	// marked the same way.
	Highlight string
	// Matched lists the parts of the document the query matched, among
	// SearchFieldContent, SearchFieldAttachments and SearchFieldMentions,
	// in that order.
	Matched []string
}

// SearchResult is one page of hits, best first.
type SearchResult struct {
	Hits []SearchHit
	// EstimatedTotal is how many documents match in all, as well as the
	// index can tell cheaply.
	EstimatedTotal int
}

// SearchIndex is the full-text index of messages (Meilisearch, Bleve). It
// is a projection of the messages table, written by the search indexer and
// rebuildable from Postgres; it never decides who may read what, the
// caller passes the allowed chats with every query.
type SearchIndex interface {
	// Upsert adds or replaces documents by ID. When it returns nil the
	// documents are searchable.
	Upsert(ctx context.Context, docs []SearchDocument) error
	// Delete removes documents by message id; unknown ids are ignored.
	// When it returns nil they are no longer found.
	Delete(ctx context.Context, ids []int64) error
	// Search returns one page of the documents that match q.
	Search(ctx context.Context, q SearchQuery) (SearchResult, error)
	// Ping tells whether the index can serve requests, for health checks.
	Ping(ctx context.Context) error
}

// AllowsChat reports whether q may return hits of chatID: it is one of the
// allowed chats and, with a single-chat filter, that chat.
func (q SearchQuery) AllowsChat(chatID int64) bool {
	if q.ChatID != 0 && chatID != q.ChatID {
		return false
	}
	for _, id := range q.ChatIDs {
		if id == chatID {
			return true
		}
	}
	return false
}

// Scope returns the chats q searches: ChatIDs, or just ChatID when it is set
// and allowed. Empty means q can have no hits, and an index answers without
// looking.
func (q SearchQuery) Scope() []int64 {
	if q.ChatID == 0 {
		return q.ChatIDs
	}
	if q.AllowsChat(q.ChatID) {
		return []int64{q.ChatID}
	}
	return nil
}
