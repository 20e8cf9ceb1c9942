package bleve

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fechatter/fechatter/ports"
)

func TestOneEditApart(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"hello", "hello", true},
		{"hello", "helo", true},   // one dropped
		{"hello", "helloo", true}, // one added
		{"hello", "hallo", true},  // one replaced
		{"hello", "hlelo", true},  // neighbours swapped
		{"hello", "hlleo", false}, // two replaced
		{"hello", "help", false},
		{"hello", "hel", false},
		{"café", "cafe", true},
		{"привет", "привте", true},
		{"привет", "прувит", false},
		{"", "a", true},
		{"ab", "ba", true},
		{"abc", "cab", false},
	} {
		if got := oneEditApart(tc.a, tc.b); got != tc.want {
			t.Errorf("oneEditApart(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := oneEditApart(tc.b, tc.a); got != tc.want {
			t.Errorf("oneEditApart(%q, %q) = %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}

// The chat filter is pushed down to each term when the query has few
// terms and chats, and stays on top otherwise: both find the same hits,
// in the same order, with the same total, and ties in score go to the
// newest message first.
func TestFilterPushedDownOrNotAlike(t *testing.T) {
	idx, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var docs []ports.SearchDocument
	for i := range 300 {
		docs = append(docs, ports.SearchDocument{ID: int64(1000 + i), ChatID: int64(1 + i%3), Seq: int64(i/3 + 1),
			Content: benchContent(i), CreatedAt: at})
	}
	// Equal scores: the same text in one chat, the newest (highest id) first.
	for _, id := range []int64{5000, 5002, 5001} {
		docs = append(docs, ports.SearchDocument{ID: id, ChatID: 1, Seq: id, Content: "zzquux plover", CreatedAt: at})
	}
	if err := idx.Upsert(ctx, docs); err != nil {
		t.Fatal(err)
	}

	many := []int64{1}
	for c := range 600 {
		many = append(many, int64(100+c)) // chats without messages: only the number of them changes
	}
	for _, text := range []string{"kakaka", "kaka", "kalo", "mi", "kakaka lolo", "zzquux", "plovr", "nothinghere"} {
		scoped, err := idx.Search(ctx, ports.SearchQuery{Text: text, ChatIDs: []int64{1}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		onTop, err := idx.Search(ctx, ports.SearchQuery{Text: text, ChatIDs: many, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if scoped.EstimatedTotal != onTop.EstimatedTotal || !slices.EqualFunc(scoped.Hits, onTop.Hits, func(a, b ports.SearchHit) bool {
			return a.MessageID == b.MessageID && a.Highlight == b.Highlight
		}) {
			t.Errorf("%q: filter pushed down found %d %v, on top %d %v", text, scoped.EstimatedTotal, ids(scoped.Hits), onTop.EstimatedTotal, ids(onTop.Hits))
		}
		for _, h := range scoped.Hits {
			if h.ChatID != 1 {
				t.Errorf("%q: hit %+v of chat %d", text, h, h.ChatID)
			}
		}
	}
	res, err := idx.Search(ctx, ports.SearchQuery{Text: "plover", ChatIDs: []int64{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(res.Hits); !slices.Equal(got, []int64{5002, 5001, 5000}) {
		t.Errorf("equal scores: hits %v, want the newest first [5002 5001 5000]", got)
	}
}

func ids(hits []ports.SearchHit) []int64 {
	out := make([]int64, len(hits))
	for i, h := range hits {
		out[i] = h.MessageID
	}
	return out
}
