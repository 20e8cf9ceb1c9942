package bleve

import (
	"context"
	"errors"
	"fmt"
	"html"
	"strconv"
	"unicode/utf8"

	blevesearch "github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	"github.com/blevesearch/bleve/v2/mapping"
	htmlhighlight "github.com/blevesearch/bleve/v2/search/highlight/highlighter/html"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/fechatter/fechatter/ports"
)

var _ ports.SearchIndex = (*Index)(nil)

// Field names of a document.
const (
	fieldContent     = "content"
	fieldChatID      = "chat_id"
	fieldWorkspaceID = "workspace_id"
	fieldSenderID    = "sender_id"
	fieldSeq         = "seq"
	fieldCreatedAt   = "created_at"
)

// minFuzzyRunes is the shortest query word matched with a typo: shorter
// ones would match too much ("of" at distance 1 is half the dictionary).
// Meilisearch is configured alike (adapters/meili).
const minFuzzyRunes = 4

// Index is a ports.SearchIndex in a Bleve index on disk. It is safe for
// concurrent use; Close it when done.
type Index struct {
	idx      blevesearch.Index
	analyzer analysis.Analyzer
}

// Open opens the index in dir, creating it (and dir) if there is none yet.
func Open(dir string) (*Index, error) {
	if dir == "" {
		return nil, errors.New("bleve index: no directory")
	}
	idx, err := blevesearch.Open(dir)
	if errors.Is(err, blevesearch.ErrorIndexPathDoesNotExist) || errors.Is(err, blevesearch.ErrorIndexMetaMissing) {
		idx, err = blevesearch.New(dir, newMapping())
	}
	if err != nil {
		return nil, fmt.Errorf("open bleve index in %s: %w", dir, err)
	}
	an := idx.Mapping().AnalyzerNamed(standard.Name)
	if an == nil {
		_ = idx.Close()
		return nil, fmt.Errorf("open bleve index in %s: no %s analyzer", dir, standard.Name)
	}
	return &Index{idx: idx, analyzer: an}, nil
}

// Close flushes and closes the index.
func (x *Index) Close() error { return x.idx.Close() }

// newMapping maps the one document type: content is analyzed text with
// term vectors (for highlighting), the ids are keywords (exact terms, so a
// chat filter is a disjunction of term queries), seq is a number and
// created_at a date (for the tie-break sort). Nothing else is indexed.
func newMapping() mapping.IndexMapping {
	keyword := func(store bool) *mapping.FieldMapping {
		f := blevesearch.NewKeywordFieldMapping()
		f.Store = store
		f.IncludeInAll = false
		f.IncludeTermVectors = false
		f.DocValues = false
		return f
	}
	content := blevesearch.NewTextFieldMapping()
	content.Analyzer = standard.Name
	content.Store = true
	content.IncludeTermVectors = true
	content.IncludeInAll = false
	content.DocValues = false

	seq := blevesearch.NewNumericFieldMapping()
	seq.IncludeInAll = false
	seq.DocValues = false

	created := blevesearch.NewDateTimeFieldMapping()
	created.Store = false
	created.IncludeInAll = false

	doc := blevesearch.NewDocumentStaticMapping()
	doc.AddFieldMappingsAt(fieldContent, content)
	doc.AddFieldMappingsAt(fieldChatID, keyword(true))
	doc.AddFieldMappingsAt(fieldWorkspaceID, keyword(false))
	doc.AddFieldMappingsAt(fieldSenderID, keyword(false))
	doc.AddFieldMappingsAt(fieldSeq, seq)
	doc.AddFieldMappingsAt(fieldCreatedAt, created)

	m := blevesearch.NewIndexMapping()
	m.DefaultMapping = doc
	m.DefaultAnalyzer = standard.Name
	m.IndexDynamic = false
	m.StoreDynamic = false
	m.DocValuesDynamic = false
	return m
}

func docID(id int64) string { return strconv.FormatInt(id, 10) }

// Upsert indexes docs in one batch; a document with the same id is
// replaced. Bleve's Batch returns once the batch is searchable.
func (x *Index) Upsert(ctx context.Context, docs []ports.SearchDocument) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(docs) == 0 {
		return nil
	}
	b := x.idx.NewBatch()
	for _, d := range docs {
		err := b.Index(docID(d.ID), map[string]any{
			fieldContent:     d.Content,
			fieldChatID:      strconv.FormatInt(d.ChatID, 10),
			fieldWorkspaceID: strconv.FormatInt(d.WorkspaceID, 10),
			fieldSenderID:    strconv.FormatInt(d.SenderID, 10),
			fieldSeq:         float64(d.Seq),
			fieldCreatedAt:   d.CreatedAt.UTC(),
		})
		if err != nil {
			return fmt.Errorf("bleve: index message %d: %w", d.ID, err)
		}
	}
	if err := x.idx.Batch(b); err != nil {
		return fmt.Errorf("bleve: upsert %d documents: %w", len(docs), err)
	}
	return nil
}

// Delete removes documents in one batch.
func (x *Index) Delete(ctx context.Context, ids []int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	b := x.idx.NewBatch()
	for _, id := range ids {
		b.Delete(docID(id))
	}
	if err := x.idx.Batch(b); err != nil {
		return fmt.Errorf("bleve: delete %d documents: %w", len(ids), err)
	}
	return nil
}

// Search runs, for each analyzed query word, a prefix query or (words of
// minFuzzyRunes and more) a fuzzy query at distance 1, all words required,
// filtered without scoring to the allowed chats. Ties in score go newest
// first, then by id, so pages are stable.
func (x *Index) Search(ctx context.Context, q ports.SearchQuery) (ports.SearchResult, error) {
	empty := ports.SearchResult{Hits: []ports.SearchHit{}}
	scope := q.Scope()
	words := x.words(q.Text)
	if len(scope) == 0 || len(words) == 0 {
		return empty, nil
	}

	must := make([]query.Query, 0, len(words))
	for _, w := range words {
		prefix := blevesearch.NewPrefixQuery(w)
		prefix.SetField(fieldContent)
		alts := []query.Query{prefix}
		if utf8.RuneCountInString(w) >= minFuzzyRunes {
			fuzzy := blevesearch.NewFuzzyQuery(w)
			fuzzy.SetField(fieldContent)
			fuzzy.SetFuzziness(1)
			alts = append(alts, fuzzy)
		}
		must = append(must, blevesearch.NewDisjunctionQuery(alts...))
	}
	chats := make([]query.Query, 0, len(scope))
	for _, id := range scope {
		t := blevesearch.NewTermQuery(strconv.FormatInt(id, 10))
		t.SetField(fieldChatID)
		chats = append(chats, t)
	}
	bq := query.NewBooleanQuery(must, nil, nil)
	bq.AddFilter(blevesearch.NewDisjunctionQuery(chats...))

	limit := q.Limit
	if limit <= 0 {
		limit = ports.DefaultSearchLimit
	}
	req := blevesearch.NewSearchRequestOptions(bq, limit, max(q.Offset, 0), false)
	req.Fields = []string{fieldChatID, fieldSeq, fieldContent}
	req.Highlight = blevesearch.NewHighlightWithStyle(htmlhighlight.Name)
	req.Highlight.AddField(fieldContent)
	req.SortBy([]string{"-_score", "-" + fieldCreatedAt, "_id"})

	res, err := x.idx.SearchInContext(ctx, req)
	if err != nil {
		return ports.SearchResult{}, fmt.Errorf("bleve: search: %w", err)
	}
	out := ports.SearchResult{Hits: make([]ports.SearchHit, 0, len(res.Hits)), EstimatedTotal: int(res.Total)}
	for _, h := range res.Hits {
		id, err := strconv.ParseInt(h.ID, 10, 64)
		if err != nil {
			return ports.SearchResult{}, fmt.Errorf("bleve: document id %q: %w", h.ID, err)
		}
		hit := ports.SearchHit{MessageID: id}
		if s, ok := h.Fields[fieldChatID].(string); ok {
			hit.ChatID, _ = strconv.ParseInt(s, 10, 64)
		}
		if f, ok := h.Fields[fieldSeq].(float64); ok {
			hit.Seq = int64(f)
		}
		if frags := h.Fragments[fieldContent]; len(frags) > 0 {
			hit.Highlight = frags[0]
		} else if s, ok := h.Fields[fieldContent].(string); ok {
			hit.Highlight = html.EscapeString(s)
		}
		out.Hits = append(out.Hits, hit)
	}
	return out, nil
}

// words analyzes text as content is analyzed, so query words compare with
// indexed terms.
func (x *Index) words(text string) []string {
	seen := make(map[string]bool)
	var out []string
	for _, tok := range x.analyzer.Analyze([]byte(text)) {
		w := string(tok.Term)
		if w != "" && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// Ping checks that the index is open and readable.
func (x *Index) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := x.idx.DocCount(); err != nil {
		return fmt.Errorf("bleve: %w", err)
	}
	return nil
}
