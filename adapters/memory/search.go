package memory

import (
	"cmp"
	"context"
	"html"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/fechatter/fechatter/ports"
)

var _ ports.SearchIndex = (*SearchIndex)(nil)

// SearchIndex is a ports.SearchIndex in process memory, for tests and for
// running without a search engine. It scans every document: a query word
// matches a word of the content, a file name or a mention name that
// contains it, or (from 4 letters) one at edit distance 1, ignoring case.
// Every query word must match, each in any of them. Hits come newest first.
type SearchIndex struct {
	mu   sync.RWMutex
	docs map[int64]ports.SearchDocument
}

// NewSearchIndex returns an empty index.
func NewSearchIndex() *SearchIndex {
	return &SearchIndex{docs: make(map[int64]ports.SearchDocument)}
}

// Upsert stores docs, replacing those with the same ids.
func (s *SearchIndex) Upsert(ctx context.Context, docs []ports.SearchDocument) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range docs {
		s.docs[d.ID] = d
	}
	return nil
}

// Delete removes the documents of ids.
func (s *SearchIndex) Delete(ctx context.Context, ids []int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.docs, id)
	}
	return nil
}

// Search scans the documents of the chats q may see.
func (s *SearchIndex) Search(ctx context.Context, q ports.SearchQuery) (ports.SearchResult, error) {
	if err := ctx.Err(); err != nil {
		return ports.SearchResult{}, err
	}
	terms := searchWords(q.Text)
	scope := q.Scope()
	if len(terms) == 0 || len(scope) == 0 {
		return ports.SearchResult{Hits: []ports.SearchHit{}}, nil
	}
	allowed := make(map[int64]bool, len(scope))
	for _, id := range scope {
		allowed[id] = true
	}

	s.mu.RLock()
	var found []ports.SearchDocument
	for _, d := range s.docs {
		if allowed[d.ChatID] && matchesAll(documentWords(d), terms) {
			found = append(found, d)
		}
	}
	s.mu.RUnlock()

	slices.SortFunc(found, func(a, b ports.SearchDocument) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	limit := q.Limit
	if limit <= 0 {
		limit = ports.DefaultSearchLimit
	}
	offset := min(max(q.Offset, 0), len(found))
	page := found[offset:min(offset+limit, len(found))]
	res := ports.SearchResult{Hits: make([]ports.SearchHit, 0, len(page)), EstimatedTotal: len(found)}
	for _, d := range page {
		res.Hits = append(res.Hits, hitOf(d, terms))
	}
	return res, nil
}

// Ping always succeeds.
func (s *SearchIndex) Ping(ctx context.Context) error { return ctx.Err() }

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }

// searchWords splits text into lower-case words.
func searchWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !isWordRune(r) })
}

// documentWords are the words of everything a document is found by.
func documentWords(d ports.SearchDocument) []string {
	words := searchWords(d.Content)
	for _, names := range [][]string{d.FileNames, d.MentionNames} {
		for _, n := range names {
			words = append(words, searchWords(n)...)
		}
	}
	return words
}

// hitOf tells which parts of d matched and highlights the content, or
// else the first name that matched.
func hitOf(d ports.SearchDocument, terms []string) ports.SearchHit {
	h := ports.SearchHit{MessageID: d.ID, ChatID: d.ChatID, Seq: d.Seq}
	matches := func(text string) bool { return matchesAny(searchWords(text), terms) }
	if matches(d.Content) {
		h.Matched = append(h.Matched, ports.SearchFieldContent)
		h.Highlight = highlight(d.Content, terms)
	}
	for _, part := range []struct {
		field string
		names []string
	}{{ports.SearchFieldAttachments, d.FileNames}, {ports.SearchFieldMentions, d.MentionNames}} {
		if i := slices.IndexFunc(part.names, matches); i >= 0 {
			h.Matched = append(h.Matched, part.field)
			if h.Highlight == "" {
				h.Highlight = highlight(part.names[i], terms)
			}
		}
	}
	if len(h.Matched) == 0 { // cannot happen: the document matched
		h.Highlight = html.EscapeString(d.Content)
	}
	return h
}

func matchesAny(words, terms []string) bool {
	return slices.ContainsFunc(terms, func(t string) bool {
		return slices.ContainsFunc(words, func(w string) bool { return wordMatches(w, t) })
	})
}

func matchesAll(words, terms []string) bool {
	for _, t := range terms {
		if !slices.ContainsFunc(words, func(w string) bool { return wordMatches(w, t) }) {
			return false
		}
	}
	return true
}

// wordMatches tells whether the content word w matches the query word t.
func wordMatches(w, t string) bool {
	if strings.Contains(w, t) {
		return true
	}
	tr := []rune(t)
	return len(tr) >= 4 && editDistanceAtMostOne([]rune(w), tr)
}

// editDistanceAtMostOne tells whether one insertion, deletion or
// substitution at most turns a into b.
func editDistanceAtMostOne(a, b []rune) bool {
	if len(a) < len(b) {
		a, b = b, a
	}
	if len(a)-len(b) > 1 {
		return false
	}
	i := 0
	for i < len(b) && a[i] == b[i] {
		i++
	}
	if len(a) == len(b) {
		return slices.Equal(a[min(i+1, len(a)):], b[min(i+1, len(b)):])
	}
	return slices.Equal(a[i+1:], b[i:])
}

// highlight returns content HTML-escaped with the words that match a term
// between <mark> and </mark>.
func highlight(content string, terms []string) string {
	var b strings.Builder
	rest := content
	for rest != "" {
		i := strings.IndexFunc(rest, isWordRune)
		if i < 0 {
			b.WriteString(html.EscapeString(rest))
			break
		}
		b.WriteString(html.EscapeString(rest[:i]))
		rest = rest[i:]
		j := strings.IndexFunc(rest, func(r rune) bool { return !isWordRune(r) })
		if j < 0 {
			j = len(rest)
		}
		word := rest[:j]
		lower := strings.ToLower(word)
		if slices.ContainsFunc(terms, func(t string) bool { return wordMatches(lower, t) }) {
			b.WriteString("<mark>" + html.EscapeString(word) + "</mark>")
		} else {
			b.WriteString(html.EscapeString(word))
		}
		rest = rest[j:]
	}
	return b.String()
}
