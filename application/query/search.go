package query

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// Search limits.
const (
	MaxSearchQueryLen  = 256 // characters, after trimming
	DefaultSearchLimit = 20
	MaxSearchLimit     = 100
	// MaxSearchOffset bounds paging: deep pages cost the index more and
	// Meilisearch stops at 1000 hits by default anyway.
	MaxSearchOffset = 1000
)

// MemberChats tells which chats a user is a member of, read at query time
// (not from the index), so a removed member stops finding a chat at once.
type MemberChats interface {
	// MemberChatIDs returns the ids of the chats userID is a member of.
	MemberChatIDs(ctx context.Context, userID int64) ([]int64, error)
	// MemberChatIDsOf does the same for many users at once (the presence
	// fan-out of a burst of connections): the chats of each of userIDs
	// that is in any, in one query.
	MemberChatIDsOf(ctx context.Context, userIDs []int64) (map[int64][]int64, error)
}

// MessageLookup loads messages by id from the source of truth.
type MessageLookup interface {
	// MessagesByIDs returns the messages of ids that exist, deleted ones
	// included (with DeletedAt set), in any order; unknown ids are left out.
	MessagesByIDs(ctx context.Context, ids []int64) ([]Message, error)
}

// SearchParams are the inputs of GET /search/messages.
type SearchParams struct {
	Q      string
	ChatID int64 // 0: all the caller's chats
	Limit  int   // 0: DefaultSearchLimit
	Offset int
}

// SearchMessages answers GET /search/messages: full-text search over the
// messages of the chats the caller is a member of now.
type SearchMessages struct {
	index    ports.SearchIndex
	chats    MemberChats
	messages MessageLookup
	preview  ChatReadModel // nil: members only
	links    *FileLinks    // nil: attachments' links left unsigned
}

// WithFileLinks signs the attachments of the messages it returns.
func (h SearchMessages) WithFileLinks(l FileLinks) SearchMessages { h.links = &l; return h }

// NewSearchMessages builds the handler.
func NewSearchMessages(index ports.SearchIndex, chats MemberChats, messages MessageLookup) SearchMessages {
	mustHave(index, chats, messages)
	return SearchMessages{index: index, chats: chats, messages: messages}
}

// Handle searches. The index only narrows the candidates: every hit is
// loaded from storage and dropped if the message is gone or deleted, or its
// chat is no longer the caller's, since the index lags behind writes.
func (h SearchMessages) Handle(ctx context.Context, v Viewer, p SearchParams) (SearchResults, error) {
	start := time.Now()
	if !utf8.ValidString(p.Q) {
		return SearchResults{}, errs.Invalidf("q must be valid UTF-8")
	}
	q := strings.TrimSpace(p.Q)
	if n := utf8.RuneCountInString(q); n < 1 || n > MaxSearchQueryLen {
		return SearchResults{}, errs.Invalidf("q must be 1..%d characters", MaxSearchQueryLen)
	}
	if p.Limit == 0 {
		p.Limit = DefaultSearchLimit
	}
	if p.Limit < 1 || p.Limit > MaxSearchLimit {
		return SearchResults{}, errs.Invalidf("limit must be 1..%d", MaxSearchLimit)
	}
	if p.Offset < 0 || p.Offset > MaxSearchOffset {
		return SearchResults{}, errs.Invalidf("offset must be 0..%d", MaxSearchOffset)
	}
	if p.ChatID < 0 {
		return SearchResults{}, errs.NotFoundf("chat %d not found", p.ChatID)
	}

	chatIDs, err := h.chats.MemberChatIDs(ctx, v.UserID)
	if err != nil {
		return SearchResults{}, err
	}
	allowed := make(map[int64]bool, len(chatIDs))
	for _, id := range chatIDs {
		allowed[id] = true
	}
	if p.ChatID != 0 && !allowed[p.ChatID] {
		ok, err := previewable(ctx, h.preview, v, p.ChatID)
		if err != nil {
			return SearchResults{}, err
		}
		if !ok {
			return SearchResults{}, errs.NotFoundf("chat %d not found", p.ChatID)
		}
		allowed[p.ChatID] = true
		chatIDs = append(chatIDs, p.ChatID)
	}
	out := SearchResults{Hits: []SearchHit{}}
	if len(chatIDs) == 0 {
		out.TookMs = time.Since(start).Milliseconds()
		return out, nil
	}

	res, err := h.index.Search(ctx, ports.SearchQuery{Text: q, ChatIDs: chatIDs, ChatID: p.ChatID, Limit: p.Limit, Offset: p.Offset})
	if err != nil {
		return SearchResults{}, errs.Wrap(errs.Unavailable, err, "search is unavailable")
	}
	if len(res.Hits) > 0 {
		ids := make([]int64, len(res.Hits))
		for i, hit := range res.Hits {
			ids[i] = hit.MessageID
		}
		msgs, err := h.messages.MessagesByIDs(ctx, ids)
		if err != nil {
			return SearchResults{}, err
		}
		byID := make(map[int64]Message, len(msgs))
		for _, m := range msgs {
			byID[m.ID] = m
		}
		for _, hit := range res.Hits {
			m, ok := byID[hit.MessageID]
			if !ok || m.DeletedAt != nil || !allowed[m.ChatID] || (p.ChatID != 0 && m.ChatID != p.ChatID) {
				continue
			}
			matched := hit.Matched
			if matched == nil {
				matched = []string{}
			}
			out.Hits = append(out.Hits, SearchHit{Message: m, Highlight: hit.Highlight, MatchedIn: matched})
		}
		if h.links != nil {
			for i := range out.Hits {
				h.links.Sign(out.Hits[i].Message.Attachments)
			}
		}
	}
	// Dropped hits are out of the estimate too; it never says less than
	// the hits shown so far.
	out.EstimatedTotal = max(res.EstimatedTotal-(len(res.Hits)-len(out.Hits)), 0)
	if len(out.Hits) > 0 {
		out.EstimatedTotal = max(out.EstimatedTotal, p.Offset+len(out.Hits))
	}
	out.TookMs = time.Since(start).Milliseconds()
	return out, nil
}

// SearchNames are the names a mention of a user is found by: the full
// name, and the local part of the email (the handle people type, "bob" of
// bob@example.com) unless the full name is just that.
func SearchNames(fullname, email string) []string {
	local, _, _ := strings.Cut(email, "@")
	switch {
	case local == "" || strings.EqualFold(local, fullname):
		return []string{fullname}
	case fullname == "":
		return []string{local}
	}
	return []string{fullname, local}
}
