package bleve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"unicode"
	"unicode/utf8"

	blevesearch "github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/registry"
	"github.com/blevesearch/bleve/v2/search/highlight"
	htmlhighlight "github.com/blevesearch/bleve/v2/search/highlight/highlighter/html"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/fechatter/fechatter/ports"
)

var _ ports.SearchIndex = (*Index)(nil)

// Field names of a document.
const (
	fieldContent = "content"
	fieldChatID  = "chat_id"
	fieldSeq     = "seq"
	// fieldOrder breaks ties in score: orderKey of the message id, one
	// term with doc values kept one document to a chunk, uncompressed
	// (orderOptions), since the sort reads it for every hit.
	fieldOrder = "order"
	// The names a message is found by: attachments' file names and the
	// mentioned users' names, indexed with their punctuation turned into
	// spaces (nameWords), and kept as they are in the *_shown fields (stored,
	// not indexed) for the highlight.
	fieldFileNames         = "file_names"
	fieldFileNamesShown    = "file_names_shown"
	fieldMentionNames      = "mention_names"
	fieldMentionNamesShown = "mention_names_shown"
)

// mappingVersion is kept in the index (internal key mappingVersionKey). An
// index opened with an older one is recreated empty (Open reports it with
// Recreated) and must be rebuilt with a reindex: Bleve cannot add fields
// to the mapping of an existing index. 1: content only; 2: names; 3: no
// term vectors (hits are marked from their stored text), the tie-break on
// the message id (fieldOrder) instead of created_at and the document id,
// seq stored only, the workspace and sender ids (which no query reads) and
// created_at dropped.
const (
	mappingVersion    = "3"
	mappingVersionKey = "fechatter_mapping_version"
)

// nameFields are the name fields with the SearchHit.Matched name of each,
// in the order hits list them.
var nameFields = []struct{ indexed, shown, matched string }{
	{fieldFileNames, fieldFileNamesShown, ports.SearchFieldAttachments},
	{fieldMentionNames, fieldMentionNamesShown, ports.SearchFieldMentions},
}

// minFuzzyRunes is the shortest query word matched with a typo: shorter
// ones would match too much ("of" at distance 1 is half the dictionary).
// Meilisearch is configured alike (adapters/meili).
const minFuzzyRunes = 4

// Index is a ports.SearchIndex in a Bleve index on disk. It is safe for
// concurrent use; Close it when done.
type Index struct {
	idx         blevesearch.Index
	analyzer    analysis.Analyzer
	keyword     analysis.Analyzer
	highlighter highlight.Highlighter
	recreated   bool
	created     bool
}

// Open opens the index in dir, creating it (and dir) if there is none yet.
// An index written with an older mapping is removed and created again,
// empty: see Recreated.
func Open(dir string) (*Index, error) {
	if dir == "" {
		return nil, errors.New("bleve index: no directory")
	}
	recreated, created := false, false
	idx, err := blevesearch.Open(dir)
	if err == nil {
		var v []byte
		v, err = idx.GetInternal([]byte(mappingVersionKey))
		if err != nil {
			_ = idx.Close()
		} else if string(v) != mappingVersion {
			// The index is derived from Postgres: drop it, the caller
			// rebuilds it.
			_ = idx.Close()
			if err = os.RemoveAll(dir); err == nil {
				err, recreated = blevesearch.ErrorIndexPathDoesNotExist, true
			}
		}
	}
	if errors.Is(err, blevesearch.ErrorIndexPathDoesNotExist) || errors.Is(err, blevesearch.ErrorIndexMetaMissing) {
		created = true
		idx, err = blevesearch.New(dir, newMapping())
		if err == nil {
			err = idx.SetInternal([]byte(mappingVersionKey), []byte(mappingVersion))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open bleve index in %s: %w", dir, err)
	}
	an, kw := idx.Mapping().AnalyzerNamed(standard.Name), idx.Mapping().AnalyzerNamed(keyword.Name)
	if an == nil || kw == nil {
		_ = idx.Close()
		return nil, fmt.Errorf("open bleve index in %s: no %s or %s analyzer", dir, standard.Name, keyword.Name)
	}
	hl, err := registry.NewCache().HighlighterNamed(htmlhighlight.Name)
	if err != nil {
		_ = idx.Close()
		return nil, fmt.Errorf("open bleve index in %s: %w", dir, err)
	}
	return &Index{idx: idx, analyzer: an, keyword: kw, highlighter: hl, recreated: recreated, created: created}, nil
}

// Recreated tells whether Open found an index of an older mapping and
// replaced it with an empty one: the caller should reindex.
func (x *Index) Recreated() bool { return x.recreated }

// Created tells whether Open created the index empty: none was there (a
// new instance, a container without its volume) or Recreated. The caller
// should fill it from the source of truth: the stream it follows keeps
// only its last days.
func (x *Index) Created() bool { return x.created }

// Close flushes and closes the index.
func (x *Index) Close() error { return x.idx.Close() }

// newMapping maps the one document type: content and the names are
// analyzed text without term vectors (a hit is marked from its stored
// text: mark), the chat id is a keyword (exact terms, so a chat filter is
// a disjunction of term queries), seq is only stored. Nothing else is
// indexed but fieldOrder, which Upsert adds itself (a mapping cannot ask
// for its doc values options).
func newMapping() mapping.IndexMapping {
	chat := blevesearch.NewKeywordFieldMapping()
	chat.Store = true
	chat.IncludeInAll = false
	chat.IncludeTermVectors = false
	chat.DocValues = false
	text := func(store bool) *mapping.FieldMapping {
		f := blevesearch.NewTextFieldMapping()
		f.Analyzer = standard.Name
		f.Store = store
		f.IncludeTermVectors = false
		f.IncludeInAll = false
		f.DocValues = false
		return f
	}
	shown := blevesearch.NewTextFieldMapping()
	shown.Index = false
	shown.Store = true
	shown.IncludeTermVectors = false
	shown.IncludeInAll = false
	shown.DocValues = false

	seq := blevesearch.NewNumericFieldMapping()
	seq.Index = false
	seq.Store = true
	seq.IncludeInAll = false
	seq.DocValues = false

	doc := blevesearch.NewDocumentStaticMapping()
	doc.AddFieldMappingsAt(fieldContent, text(true))
	doc.AddFieldMappingsAt(fieldChatID, chat)
	doc.AddFieldMappingsAt(fieldSeq, seq)
	for _, f := range nameFields {
		doc.AddFieldMappingsAt(f.indexed, text(false))
		doc.AddFieldMappingsAt(f.shown, shown)
	}

	m := blevesearch.NewIndexMapping()
	m.DefaultMapping = doc
	m.DefaultAnalyzer = standard.Name
	m.IndexDynamic = false
	m.StoreDynamic = false
	m.DocValuesDynamic = false
	return m
}

func docID(id int64) string { return strconv.FormatInt(id, 10) }

// orderKey is the fieldOrder term of message id: its digits in base 36
// after their count, so that the terms sort as the (positive) ids do.
func orderKey(id int64) string {
	s := strconv.FormatInt(id, 36)
	return strconv.FormatInt(int64(len(s)), 36) + s
}

// orderOptions index fieldOrder for the sort alone: doc values without
// chunks or compression, so that reading one document's costs nothing
// more (Bleve does so for geo points, for the same reason).
const orderOptions = index.IndexField | index.DocValues | index.SkipDVChunking | index.SkipDVCompression

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
	m := x.idx.Mapping()
	for _, d := range docs {
		doc := document.NewDocument(docID(d.ID))
		err := m.MapDocument(doc, map[string]any{
			fieldContent: d.Content,
			fieldChatID:  strconv.FormatInt(d.ChatID, 10),
			fieldSeq:     float64(d.Seq),

			fieldFileNames:         nameWordsAll(d.FileNames),
			fieldFileNamesShown:    d.FileNames,
			fieldMentionNames:      nameWordsAll(d.MentionNames),
			fieldMentionNamesShown: d.MentionNames,
		})
		if err == nil {
			doc.AddField(document.NewTextFieldCustom(fieldOrder, nil, []byte(orderKey(d.ID)), orderOptions, x.keyword))
			err = b.IndexAdvanced(doc)
		}
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

// Search finds, for each analyzed query word, the documents with a term
// that starts with it or (words of minFuzzyRunes and more) is a typo away,
// in the content or either name field (there, a word with punctuation,
// such as "report.pdf", must match all its parts), all words required,
// in the allowed chats only (matchQuery). Ties in score go to the highest
// message id (the newest) first, so pages are stable. Only the page's hits
// are then marked (mark).
func (x *Index) Search(ctx context.Context, q ports.SearchQuery) (ports.SearchResult, error) {
	empty := ports.SearchResult{Hits: []ports.SearchHit{}}
	scope := q.Scope()
	words := x.words(q.Text)
	if len(scope) == 0 || len(words) == 0 {
		return empty, nil
	}

	mq := &matchQuery{chats: make([]string, 0, len(scope))}
	marks := make([]queryWord, 0, len(words))
	for _, w := range words {
		alts := []alternative{{field: fieldContent, parts: []string{w}}}
		parts := x.words(nameWords(w))
		if len(parts) > 0 {
			for _, f := range nameFields {
				alts = append(alts, alternative{field: f.indexed, parts: parts})
			}
		}
		mq.words = append(mq.words, alts)
		marks = append(marks, queryWord{word: w, parts: parts})
	}
	for _, id := range scope {
		mq.chats = append(mq.chats, strconv.FormatInt(id, 10))
	}

	limit := q.Limit
	if limit <= 0 {
		limit = ports.DefaultSearchLimit
	}
	req := blevesearch.NewSearchRequestOptions(mq, limit, max(q.Offset, 0), false)
	req.Fields = []string{fieldChatID, fieldSeq, fieldContent, fieldFileNamesShown, fieldMentionNamesShown}
	req.SortBy([]string{"-_score", "-" + fieldOrder})

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
		x.mark(&hit, marks, h.Fields)
		out.Hits = append(out.Hits, hit)
	}
	return out, nil
}

// nameWords turns every character of s that is not a letter or a digit
// into as many spaces as it has bytes, so "quarterly-report.pdf" is three
// words to the analyzer and each keeps its byte offsets in s.
func nameWords(s string) string {
	b := []byte(s)
	for i, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsNumber(r) {
			for j := range utf8.RuneLen(r) {
				b[i+j] = ' '
			}
		}
	}
	return string(b)
}

func nameWordsAll(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = nameWords(n)
	}
	return out
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
