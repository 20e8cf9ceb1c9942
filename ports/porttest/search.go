package porttest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fechatter/fechatter/ports"
)

// RunSearchIndex is the contract of ports.SearchIndex. newIndex may return a
// fresh index per call or one shared index: the cases isolate themselves by
// random chat and message ids, and run in parallel. The port promises that
// a write is visible once Upsert or Delete returned, so the cases read right
// after writing, without waiting.
func RunSearchIndex(t *testing.T, newIndex func(t *testing.T) ports.SearchIndex) {
	t.Run("FoundAfterUpsert", func(t *testing.T) {
		t.Parallel()
		idx := newIndex(t)
		chat := searchID()
		d := searchDoc(chat, "the quick brown fox jumps")
		upsertDocs(t, idx, d)

		res := searchFor(t, idx, ports.SearchQuery{Text: "quick", ChatIDs: []int64{chat}})
		if len(res.Hits) != 1 {
			t.Fatalf("hits = %+v, want the one document", res.Hits)
		}
		h := res.Hits[0]
		if h.MessageID != d.ID || h.ChatID != d.ChatID || h.Seq != d.Seq {
			t.Errorf("hit = %+v, want message %d chat %d seq %d", h, d.ID, d.ChatID, d.Seq)
		}
		if res.EstimatedTotal != 1 {
			t.Errorf("EstimatedTotal = %d, want 1", res.EstimatedTotal)
		}
		if got := searchFor(t, idx, ports.SearchQuery{Text: "elephant", ChatIDs: []int64{chat}}); len(got.Hits) != 0 {
			t.Errorf("a word not in the text found %+v", got.Hits)
		}
	})

	t.Run("FilteredByAllowedChats", func(t *testing.T) {
		t.Parallel()
		idx := newIndex(t)
		chatA, chatB, chatC := searchID(), searchID(), searchID()
		a := searchDoc(chatA, "quarterly report draft")
		b := searchDoc(chatB, "quarterly report final")
		upsertDocs(t, idx, a, b)

		many := []int64{chatA}
		for range 300 {
			many = append(many, searchID())
		}
		for _, tc := range []struct {
			name    string
			allowed []int64
			want    []int64
		}{
			{"only A", []int64{chatA}, []int64{a.ID}},
			{"only B", []int64{chatB}, []int64{b.ID}},
			{"both", []int64{chatA, chatB}, []int64{a.ID, b.ID}},
			{"another chat", []int64{chatC}, nil},
			{"no chats", nil, nil},
			{"no chats, empty slice", []int64{}, nil},
			{"A among many", many, []int64{a.ID}},
		} {
			res := searchFor(t, idx, ports.SearchQuery{Text: "quarterly report", ChatIDs: tc.allowed})
			if got := hitIDs(res); !sameIDs(got, tc.want) {
				t.Errorf("%s: hits %v, want %v", tc.name, got, tc.want)
			}
			for _, h := range res.Hits {
				if !slices.Contains(tc.allowed, h.ChatID) {
					t.Errorf("%s: hit %+v from a chat not allowed", tc.name, h)
				}
			}
		}
	})

	t.Run("SingleChatFilter", func(t *testing.T) {
		t.Parallel()
		idx := newIndex(t)
		chatA, chatB, chatC := searchID(), searchID(), searchID()
		a := searchDoc(chatA, "standup notes monday")
		b := searchDoc(chatB, "standup notes tuesday")
		upsertDocs(t, idx, a, b)
		allowed := []int64{chatA, chatB}

		res := searchFor(t, idx, ports.SearchQuery{Text: "standup", ChatIDs: allowed, ChatID: chatB})
		if got := hitIDs(res); !sameIDs(got, []int64{b.ID}) {
			t.Errorf("chat B only: hits %v, want [%d]", got, b.ID)
		}
		res = searchFor(t, idx, ports.SearchQuery{Text: "standup", ChatIDs: allowed, ChatID: chatC})
		if len(res.Hits) != 0 {
			t.Errorf("a single chat outside the allowed ones found %+v", res.Hits)
		}
	})

	t.Run("DeletedNotFound", func(t *testing.T) {
		t.Parallel()
		idx := newIndex(t)
		chat := searchID()
		keep := searchDoc(chat, "meeting moved to thursday")
		gone := searchDoc(chat, "meeting cancelled")
		upsertDocs(t, idx, keep, gone)

		ctx := searchCtx(t)
		if err := idx.Delete(ctx, []int64{gone.ID, searchID()}); err != nil {
			t.Fatalf("Delete (with an unknown id): %v", err)
		}
		res := searchFor(t, idx, ports.SearchQuery{Text: "meeting", ChatIDs: []int64{chat}})
		if got := hitIDs(res); !sameIDs(got, []int64{keep.ID}) {
			t.Errorf("hits %v, want only [%d]", got, keep.ID)
		}
		if res := searchFor(t, idx, ports.SearchQuery{Text: "cancelled", ChatIDs: []int64{chat}}); len(res.Hits) != 0 {
			t.Errorf("deleted document found: %+v", res.Hits)
		}
		if err := idx.Delete(ctx, nil); err != nil {
			t.Errorf("Delete(nil): %v", err)
		}
		if err := idx.Delete(ctx, []int64{gone.ID}); err != nil {
			t.Errorf("Delete again: %v", err)
		}
	})

	t.Run("UpsertReplacesText", func(t *testing.T) {
		t.Parallel()
		idx := newIndex(t)
		chat := searchID()
		d := searchDoc(chat, "apple banana")
		upsertDocs(t, idx, d)
		d.Content = "cherry damson"
		upsertDocs(t, idx, d)

		for _, old := range []string{"apple", "banana"} {
			if res := searchFor(t, idx, ports.SearchQuery{Text: old, ChatIDs: []int64{chat}}); len(res.Hits) != 0 {
				t.Errorf("old word %q still matches: %+v", old, res.Hits)
			}
		}
		res := searchFor(t, idx, ports.SearchQuery{Text: "cherry", ChatIDs: []int64{chat}})
		if got := hitIDs(res); !sameIDs(got, []int64{d.ID}) {
			t.Errorf("new word: hits %v, want [%d]", got, d.ID)
		}
	})

	t.Run("PrefixAndTypo", func(t *testing.T) {
		t.Parallel()
		idx := newIndex(t)
		chat := searchID()
		d := searchDoc(chat, "hello there")
		upsertDocs(t, idx, d)
		for _, q := range []string{"hello", "HELLO", "hel", "helo", "  hello  "} {
			res := searchFor(t, idx, ports.SearchQuery{Text: q, ChatIDs: []int64{chat}})
			if got := hitIDs(res); !sameIDs(got, []int64{d.ID}) {
				t.Errorf("%q: hits %v, want [%d]", q, got, d.ID)
			}
		}
		if res := searchFor(t, idx, ports.SearchQuery{Text: "zebra", ChatIDs: []int64{chat}}); len(res.Hits) != 0 {
			t.Errorf("unrelated word found %+v", res.Hits)
		}
	})

	t.Run("Highlight", func(t *testing.T) {
		t.Parallel()
		idx := newIndex(t)
		chat := searchID()
		plain := searchDoc(chat, "please say hello to the team")
		markup := searchDoc(chat, "<b>bold</b> & greetings")
		upsertDocs(t, idx, plain, markup)

		res := searchFor(t, idx, ports.SearchQuery{Text: "hello", ChatIDs: []int64{chat}})
		if len(res.Hits) != 1 {
			t.Fatalf("hits = %+v, want one", res.Hits)
		}
		if h := res.Hits[0].Highlight; !strings.Contains(h, "<mark>hello</mark>") || strings.Contains(h, "<mark>team") {
			t.Errorf("highlight %q does not mark exactly the matched word", h)
		}
		res = searchFor(t, idx, ports.SearchQuery{Text: "greetings", ChatIDs: []int64{chat}})
		if len(res.Hits) != 1 {
			t.Fatalf("hits = %+v, want one", res.Hits)
		}
		h := res.Hits[0].Highlight
		if !strings.Contains(h, "<mark>greetings</mark>") {
			t.Errorf("highlight %q does not mark the matched word", h)
		}
		if strings.Contains(h, "<b>") || !strings.Contains(h, "&lt;b&gt;") {
			t.Errorf("highlight %q is not HTML-escaped", h)
		}
	})

	t.Run("Paging", func(t *testing.T) {
		t.Parallel()
		idx := newIndex(t)
		chat := searchID()
		var want []int64
		var docs []ports.SearchDocument
		for _, s := range []string{"one", "two", "three", "four", "five"} {
			d := searchDoc(chat, "release checklist item "+s)
			docs = append(docs, d)
			want = append(want, d.ID)
		}
		upsertDocs(t, idx, docs...)

		var got []int64
		for i, wantLen := range []int{2, 2, 1, 0} {
			res := searchFor(t, idx, ports.SearchQuery{Text: "checklist", ChatIDs: []int64{chat}, Limit: 2, Offset: 2 * i})
			if len(res.Hits) != wantLen {
				t.Errorf("page %d: %d hits, want %d", i, len(res.Hits), wantLen)
			}
			if res.EstimatedTotal != 5 {
				t.Errorf("page %d: EstimatedTotal = %d, want 5", i, res.EstimatedTotal)
			}
			got = append(got, hitIDs(res)...)
		}
		if !sameIDs(got, want) || len(got) != len(want) {
			t.Errorf("pages hold %v, want each of %v once", got, want)
		}
		res := searchFor(t, idx, ports.SearchQuery{Text: "checklist", ChatIDs: []int64{chat}})
		if len(res.Hits) != 5 {
			t.Errorf("no limit: %d hits, want 5 (default limit %d)", len(res.Hits), ports.DefaultSearchLimit)
		}
	})

	t.Run("IdempotentUpsert", func(t *testing.T) {
		t.Parallel()
		idx := newIndex(t)
		chat := searchID()
		d := searchDoc(chat, "idempotent delivery twice")
		upsertDocs(t, idx, d)
		upsertDocs(t, idx, d)
		upsertDocs(t, idx, d, d)
		if err := idx.Upsert(searchCtx(t), nil); err != nil {
			t.Errorf("Upsert(nil): %v", err)
		}
		res := searchFor(t, idx, ports.SearchQuery{Text: "idempotent", ChatIDs: []int64{chat}})
		if got := hitIDs(res); len(got) != 1 || got[0] != d.ID || res.EstimatedTotal != 1 {
			t.Errorf("hits %v total %d, want [%d] total 1", got, res.EstimatedTotal, d.ID)
		}
	})

	t.Run("Unicode", func(t *testing.T) {
		t.Parallel()
		idx := newIndex(t)
		chat := searchID()
		d := searchDoc(chat, "Привет, мир! Café au lait 你好世界 🎉")
		upsertDocs(t, idx, d)
		for _, q := range []string{"привет", "ПРИВЕТ", "мир", "café", "CAFÉ", "世界"} {
			res := searchFor(t, idx, ports.SearchQuery{Text: q, ChatIDs: []int64{chat}})
			if got := hitIDs(res); !sameIDs(got, []int64{d.ID}) {
				t.Errorf("%q: hits %v, want [%d]", q, got, d.ID)
			}
		}
	})

	t.Run("BlankText", func(t *testing.T) {
		t.Parallel()
		idx := newIndex(t)
		chat := searchID()
		upsertDocs(t, idx, searchDoc(chat, "anything at all"))
		if res := searchFor(t, idx, ports.SearchQuery{Text: "   ", ChatIDs: []int64{chat}}); len(res.Hits) != 0 {
			t.Errorf("blank text found %+v", res.Hits)
		}
	})

	t.Run("FileNames", func(t *testing.T) {
		t.Parallel()
		idx := newIndex(t)
		chatA, chatB := searchID(), searchID()
		a := searchDoc(chatA, "numbers for the board")
		a.FileNames = []string{"quarterly-report.pdf", "notes.txt"}
		b := searchDoc(chatB, "same file elsewhere")
		b.FileNames = []string{"quarterly-report.pdf"}
		other := searchDoc(chatA, "a quarterly plan, no report attached")
		upsertDocs(t, idx, a, b, other)

		for _, q := range []string{"quarterly-report", "quarterly-report.pdf", "report.pdf", "notes"} {
			res := searchFor(t, idx, ports.SearchQuery{Text: q, ChatIDs: []int64{chatA}})
			want := []int64{a.ID}
			if q == "quarterly-report" {
				want = []int64{a.ID, other.ID} // both words are in other's text too
			}
			if got := hitIDs(res); !sameIDs(got, want) {
				t.Errorf("%q in chat A: hits %v, want %v (the message that attached the file, not chat B's)", q, got, want)
			}
		}
		res := searchFor(t, idx, ports.SearchQuery{Text: "report.pdf", ChatIDs: []int64{chatA}})
		if len(res.Hits) != 1 {
			t.Fatalf("report.pdf: hits %+v, want one", res.Hits)
		}
		h := res.Hits[0]
		if !slices.Equal(h.Matched, []string{ports.SearchFieldAttachments}) {
			t.Errorf("matched %v, want [%s]", h.Matched, ports.SearchFieldAttachments)
		}
		if !strings.Contains(h.Highlight, "<mark>report</mark>") || !strings.Contains(h.Highlight, "quarterly") {
			t.Errorf("highlight %q does not show the file name with the match marked", h.Highlight)
		}
		if res := searchFor(t, idx, ports.SearchQuery{Text: "quarterly-report.pdf", ChatIDs: []int64{searchID()}}); len(res.Hits) != 0 {
			t.Errorf("found in a chat not allowed: %+v", res.Hits)
		}
	})

	t.Run("MentionNames", func(t *testing.T) {
		t.Parallel()
		idx := newIndex(t)
		chat := searchID()
		m := searchDoc(chat, "<@42> can you review the deck?")
		m.MentionNames = []string{"Bob Builder", "bob"}
		plain := searchDoc(chat, "review the deck later")
		upsertDocs(t, idx, m, plain)

		for _, q := range []string{"Bob", "bob", "builder", "Bob Builder", "bob review"} {
			res := searchFor(t, idx, ports.SearchQuery{Text: q, ChatIDs: []int64{chat}})
			if got := hitIDs(res); !sameIDs(got, []int64{m.ID}) {
				t.Errorf("%q: hits %v, want [%d], the message that mentions Bob", q, got, m.ID)
			}
		}
		res := searchFor(t, idx, ports.SearchQuery{Text: "builder", ChatIDs: []int64{chat}})
		if len(res.Hits) == 1 {
			h := res.Hits[0]
			if !slices.Equal(h.Matched, []string{ports.SearchFieldMentions}) {
				t.Errorf("matched %v, want [%s]", h.Matched, ports.SearchFieldMentions)
			}
			if !strings.Contains(h.Highlight, "<mark>Builder</mark>") {
				t.Errorf("highlight %q does not show the mentioned name marked", h.Highlight)
			}
		}
		res = searchFor(t, idx, ports.SearchQuery{Text: "bob review", ChatIDs: []int64{chat}})
		if len(res.Hits) == 1 {
			h := res.Hits[0]
			if !slices.Equal(h.Matched, []string{ports.SearchFieldContent, ports.SearchFieldMentions}) {
				t.Errorf("bob review: matched %v, want [content mentions]", h.Matched)
			}
			if !strings.Contains(h.Highlight, "<mark>review</mark>") {
				t.Errorf("bob review: highlight %q is not the content with its match marked", h.Highlight)
			}
		}

		// An edit that drops the mention is indexed as a new version:
		// the name no longer finds it.
		m.Content, m.MentionNames = "can someone review the deck?", nil
		upsertDocs(t, idx, m)
		if res := searchFor(t, idx, ports.SearchQuery{Text: "builder", ChatIDs: []int64{chat}}); len(res.Hits) != 0 {
			t.Errorf("a mention removed by an edit still matches: %+v", res.Hits)
		}
	})

	t.Run("MatchedContent", func(t *testing.T) {
		t.Parallel()
		idx := newIndex(t)
		chat := searchID()
		d := searchDoc(chat, "launch <checklist> for friday")
		d.FileNames = []string{"plan.pdf"}
		d.MentionNames = []string{"Carol Danvers", "carol"}
		escaped := searchDoc(chat, "see file")
		escaped.FileNames = []string{"<b>budget</b>.xlsx"}
		upsertDocs(t, idx, d, escaped)
		res := searchFor(t, idx, ports.SearchQuery{Text: "checklist", ChatIDs: []int64{chat}})
		if len(res.Hits) != 1 || !slices.Equal(res.Hits[0].Matched, []string{ports.SearchFieldContent}) {
			t.Fatalf("hits %+v, want one matched in content only", res.Hits)
		}
		if h := res.Hits[0].Highlight; !strings.Contains(h, "&lt;<mark>checklist</mark>&gt;") {
			t.Errorf("highlight %q is not the escaped content with its match marked", h)
		}
		res = searchFor(t, idx, ports.SearchQuery{Text: "budget", ChatIDs: []int64{chat}})
		if len(res.Hits) != 1 {
			t.Fatalf("budget: hits %+v, want one", res.Hits)
		}
		if h := res.Hits[0].Highlight; strings.Contains(h, "<b>") || !strings.Contains(h, "&lt;b&gt;<mark>budget</mark>") {
			t.Errorf("file name highlight %q is not HTML-escaped with its match marked", h)
		}
	})

	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		if err := newIndex(t).Ping(searchCtx(t)); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
}

// searchID returns a random positive id below 2^52, exact in a float64 (a
// JSON number in some indexes), so parallel cases never share chats.
func searchID() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.BigEndian.Uint64(b[:])>>12) + 1
}

var searchSeq atomic.Int64

func searchDoc(chatID int64, content string) ports.SearchDocument {
	return ports.SearchDocument{
		ID:          searchID(),
		ChatID:      chatID,
		WorkspaceID: 1,
		SenderID:    2,
		Seq:         searchSeq.Add(1),
		Content:     content,
		CreatedAt:   Now(),
	}
}

func searchCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func upsertDocs(t *testing.T, idx ports.SearchIndex, docs ...ports.SearchDocument) {
	t.Helper()
	if err := idx.Upsert(searchCtx(t), docs); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
}

func searchFor(t *testing.T, idx ports.SearchIndex, q ports.SearchQuery) ports.SearchResult {
	t.Helper()
	res, err := idx.Search(searchCtx(t), q)
	if err != nil {
		t.Fatalf("Search(%q): %v", q.Text, err)
	}
	return res
}

func hitIDs(res ports.SearchResult) []int64 {
	ids := make([]int64, 0, len(res.Hits))
	for _, h := range res.Hits {
		ids = append(ids, h.MessageID)
	}
	return ids
}

// sameIDs tells whether got holds exactly the ids of want (no duplicates),
// in any order.
func sameIDs(got, want []int64) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}
