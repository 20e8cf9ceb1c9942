package bleve_test

import (
	"context"
	"path/filepath"
	"testing"

	blevesearch "github.com/blevesearch/bleve/v2"

	"github.com/fechatter/fechatter/adapters/bleve"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

func open(t *testing.T, dir string) *bleve.Index {
	t.Helper()
	idx, err := bleve.Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return idx
}

func TestBleveSearchIndex(t *testing.T) {
	porttest.RunSearchIndex(t, func(t *testing.T) ports.SearchIndex {
		idx := open(t, t.TempDir())
		t.Cleanup(func() {
			if err := idx.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return idx
	})
}

func TestBleveSharedIndex(t *testing.T) {
	idx := open(t, filepath.Join(t.TempDir(), "search"))
	t.Cleanup(func() { _ = idx.Close() })
	porttest.RunSearchIndex(t, func(*testing.T) ports.SearchIndex { return idx })
}

func TestBleveReopenKeepsDocuments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "search")
	ctx := context.Background()
	idx := open(t, dir)
	doc := ports.SearchDocument{ID: 7, ChatID: 3, WorkspaceID: 1, SenderID: 2, Seq: 1, Content: "persisted words"}
	if err := idx.Upsert(ctx, []ports.SearchDocument{doc}); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	if err := idx.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	idx = open(t, dir)
	defer idx.Close()
	res, err := idx.Search(ctx, ports.SearchQuery{Text: "persisted", ChatIDs: []int64{3}})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if len(res.Hits) != 1 || res.Hits[0].MessageID != 7 || res.Hits[0].ChatID != 3 || res.Hits[0].Seq != 1 {
		t.Errorf("after reopening: %+v, want message 7", res.Hits)
	}
}

func TestBlevePingAfterClose(t *testing.T) {
	idx := open(t, t.TempDir())
	if err := idx.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	_ = idx.Close()
	if err := idx.Ping(context.Background()); err == nil {
		t.Error("Ping on a closed index returned nil")
	}
}

// An index written before the name fields (no mapping version) is replaced
// by an empty one of the current mapping, and Open says so: the server
// then rebuilds it from Postgres.
func TestBleveOlderMappingIsRecreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "search")
	old, err := blevesearch.New(dir, blevesearch.NewIndexMapping())
	if err != nil {
		t.Fatalf("create an old index: %v", err)
	}
	if err := old.Index("9", map[string]any{"content": "old words"}); err != nil {
		t.Fatalf("index: %v", err)
	}
	_ = old.Close()

	idx := open(t, dir)
	if !idx.Recreated() || !idx.Created() {
		t.Fatalf("Recreated() = %v, Created() = %v for an index of an older mapping, want both", idx.Recreated(), idx.Created())
	}
	ctx := context.Background()
	doc := ports.SearchDocument{ID: 7, ChatID: 3, Seq: 1, Content: "see file", FileNames: []string{"budget-2027.xlsx"}}
	if err := idx.Upsert(ctx, []ports.SearchDocument{doc}); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	_ = idx.Close()

	idx = open(t, dir)
	defer idx.Close()
	if idx.Recreated() || idx.Created() {
		t.Error("Recreated() or Created() on reopening an index of the current mapping")
	}
	res, err := idx.Search(ctx, ports.SearchQuery{Text: "budget", ChatIDs: []int64{3}})
	if err != nil || len(res.Hits) != 1 || res.Hits[0].MessageID != 7 {
		t.Errorf("file name search after reopening: %+v, %v; want message 7", res.Hits, err)
	}
}

// An index Open makes where there was none says so (Created, not
// Recreated): the server fills it from Postgres, since the stream its
// consumer replays keeps only its last days.
func TestBleveNewIndexIsCreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "search")
	idx := open(t, dir)
	if !idx.Created() || idx.Recreated() {
		t.Fatalf("a new index: Created() = %v, Recreated() = %v; want true, false", idx.Created(), idx.Recreated())
	}
	_ = idx.Close()
	idx = open(t, dir)
	defer idx.Close()
	if idx.Created() {
		t.Error("Created() = true on reopening an existing index")
	}
}
