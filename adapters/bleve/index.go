package bleve

import (
	"context"
	"errors"
	"fmt"
	"html"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	blevesearch "github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
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
// to the mapping of an existing index. 1: content only; 2: names.
const (
	mappingVersion    = "2"
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
	idx       blevesearch.Index
	analyzer  analysis.Analyzer
	recreated bool
	created   bool
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
	an := idx.Mapping().AnalyzerNamed(standard.Name)
	if an == nil {
		_ = idx.Close()
		return nil, fmt.Errorf("open bleve index in %s: no %s analyzer", dir, standard.Name)
	}
	return &Index{idx: idx, analyzer: an, recreated: recreated, created: created}, nil
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

	names := blevesearch.NewTextFieldMapping()
	names.Analyzer = standard.Name
	names.Store = false
	names.IncludeTermVectors = true // where a name matched, for the highlight
	names.IncludeInAll = false
	names.DocValues = false
	shown := blevesearch.NewTextFieldMapping()
	shown.Index = false
	shown.Store = true
	shown.IncludeTermVectors = false
	shown.IncludeInAll = false
	shown.DocValues = false

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
	for _, f := range nameFields {
		doc.AddFieldMappingsAt(f.indexed, names)
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

			fieldFileNames:         nameWordsAll(d.FileNames),
			fieldFileNamesShown:    d.FileNames,
			fieldMentionNames:      nameWordsAll(d.MentionNames),
			fieldMentionNamesShown: d.MentionNames,
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
// minFuzzyRunes and more) a fuzzy query at distance 1 on the content or
// either name field (there, a word with punctuation, such as "report.pdf",
// must match all its parts), all words required, filtered without scoring
// to the allowed chats. Ties in score go newest first, then by id, so
// pages are stable.
func (x *Index) Search(ctx context.Context, q ports.SearchQuery) (ports.SearchResult, error) {
	empty := ports.SearchResult{Hits: []ports.SearchHit{}}
	scope := q.Scope()
	words := x.words(q.Text)
	if len(scope) == 0 || len(words) == 0 {
		return empty, nil
	}

	must := make([]query.Query, 0, len(words))
	for _, w := range words {
		alts := []query.Query{wordQuery(w, fieldContent)}
		parts := x.words(nameWords(w))
		for _, f := range nameFields {
			if len(parts) == 1 {
				alts = append(alts, wordQuery(parts[0], f.indexed))
				continue
			}
			all := make([]query.Query, 0, len(parts))
			for _, p := range parts {
				all = append(all, wordQuery(p, f.indexed))
			}
			if len(all) > 0 {
				alts = append(alts, blevesearch.NewConjunctionQuery(all...))
			}
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
	req.Fields = []string{fieldChatID, fieldSeq, fieldContent, fieldFileNamesShown, fieldMentionNamesShown}
	req.Highlight = blevesearch.NewHighlightWithStyle(htmlhighlight.Name)
	req.Highlight.AddField(fieldContent)
	req.IncludeLocations = true
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
		if len(h.Locations[fieldContent]) > 0 {
			hit.Matched = append(hit.Matched, ports.SearchFieldContent)
		}
		if frags := h.Fragments[fieldContent]; len(frags) > 0 {
			hit.Highlight = frags[0]
		}
		for _, f := range nameFields {
			shown, marked := markedName(h.Locations[f.indexed], storedStrings(h.Fields[f.shown]))
			if shown == "" {
				continue
			}
			hit.Matched = append(hit.Matched, f.matched)
			if len(hit.Matched) == 1 {
				hit.Highlight = marked
			}
		}
		if hit.Highlight == "" {
			if s, ok := h.Fields[fieldContent].(string); ok {
				hit.Highlight = html.EscapeString(s)
			}
		}
		out.Hits = append(out.Hits, hit)
	}
	return out, nil
}

// wordQuery matches w as a prefix or, from minFuzzyRunes, with a typo.
func wordQuery(w, field string) query.Query {
	prefix := blevesearch.NewPrefixQuery(w)
	prefix.SetField(field)
	if utf8.RuneCountInString(w) < minFuzzyRunes {
		return prefix
	}
	fuzzy := blevesearch.NewFuzzyQuery(w)
	fuzzy.SetField(field)
	fuzzy.SetFuzziness(1)
	return blevesearch.NewDisjunctionQuery(prefix, fuzzy)
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

// storedStrings reads a stored array field: Bleve gives one value back as
// a string and several as a slice.
func storedStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// markedName returns the first of names that a query term matched (by
// the term locations of its indexed field) and that name HTML-escaped with
// the matched words between <mark> and </mark>; "" if none matched.
func markedName(locs search.TermLocationMap, names []string) (string, string) {
	spans := map[int][][2]int{}
	first := -1
	for _, ls := range locs {
		for _, l := range ls {
			i := 0
			if len(l.ArrayPositions) > 0 {
				i = int(l.ArrayPositions[0])
			}
			if i >= len(names) || int(l.End) > len(names[i]) || l.Start >= l.End {
				continue
			}
			spans[i] = append(spans[i], [2]int{int(l.Start), int(l.End)})
			if first < 0 || i < first {
				first = i
			}
		}
	}
	if first < 0 {
		return "", ""
	}
	name, marks := names[first], spans[first]
	slices.SortFunc(marks, func(a, b [2]int) int { return a[0] - b[0] })
	var b strings.Builder
	at := 0
	for _, m := range marks {
		if m[0] < at {
			continue // overlapping (two terms at one word)
		}
		b.WriteString(html.EscapeString(name[at:m[0]]))
		b.WriteString("<mark>" + html.EscapeString(name[m[0]:m[1]]) + "</mark>")
		at = m[1]
	}
	b.WriteString(html.EscapeString(name[at:]))
	return name, b.String()
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
