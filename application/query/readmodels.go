package query

import "context"

// ChatReadModel answers questions about chats as one user sees them.
type ChatReadModel interface {
	// ListChats returns userID's chats, most recent activity first, with
	// unread counts and last messages, in one round trip.
	ListChats(ctx context.Context, userID int64) ([]ChatSummary, error)
	// ChatPositions returns where each of userID's chats stands, by chat
	// id: cheaper than ListChats (no unread counts, no last message), for
	// every WebSocket connect.
	ChatPositions(ctx context.Context, userID int64) ([]ChatPosition, error)
	// ChatSummary returns chatID as userID sees it: with their pointers if
	// a member; with a null role if not a member of a public channel of
	// workspaceID; errs.NotFound otherwise.
	ChatSummary(ctx context.Context, workspaceID, chatID, userID int64) (ChatSummary, error)
	// Members lists the members of a chat, in the order they joined.
	Members(ctx context.Context, chatID int64) ([]Member, error)
	// PublicChannels lists the public channels of workspaceID whose name
	// contains q (case-insensitive; "" matches all), by name, at most limit,
	// each as userID sees it (role set where userID is a member).
	PublicChannels(ctx context.Context, workspaceID, userID int64, q string, limit int) ([]ChatSummary, error)
}

// MessageReadModel pages through a chat's messages.
type MessageReadModel interface {
	// ListMessages returns up to limit messages: with afterSeq >= 0, those
	// with seq > afterSeq oldest first; otherwise those with seq < beforeSeq
	// (all when beforeSeq is 0) newest first. hasMore tells whether more lie
	// beyond the page in the same direction.
	ListMessages(ctx context.Context, chatID int64, page Page) (msgs []Message, hasMore bool, err error)
	// MessageBySeq returns one message; errs.NotFound.
	MessageBySeq(ctx context.Context, chatID, seq int64) (Message, error)
}

// Page selects a window of a chat's history by seq.
type Page struct {
	BeforeSeq int64 // newest first, seq < BeforeSeq; 0 means from the end
	AfterSeq  int64 // oldest first, seq > AfterSeq; used when Forward is true
	Forward   bool
	Limit     int
}
