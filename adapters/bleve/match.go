package bleve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/searcher"
	index "github.com/blevesearch/bleve_index_api"
)

// A query word matches an indexed term that starts with it or, for words of
// minFuzzyRunes and more, one that is a typo away (an edit or a swap of
// two neighbours, as Bleve's fuzzy dictionary counts them). The terms score
// by how close they are: the word itself prefixBoost+fuzzyBoost, a longer
// term it starts prefixBoost (plus fuzzyBoost/2 a typo away, "hello" for
// "hell"), a typo alone fuzzyBoost/2.
const (
	prefixBoost = 1.0
	fuzzyBoost  = 1.0
)

// maxScopedTerms bounds the term readers the chat filter is pushed down
// to: each term's postings are intersected with the allowed chats' before
// any is scored (so a query costs what the caller's chats hold, not what
// the whole index holds), at the price of one chat filter per term. Past
// the bound (many chats or a short prefix of many terms) the filter stays
// on top of the query.
const maxScopedTerms = 512

// alternative is one way a query word can match: in field, every one of
// parts (a word with punctuation searched in a name field must match all
// its parts there).
type alternative struct {
	field string
	parts []string
}

// matchQuery is the query of a search: every word matched by one of its
// alternatives, in the allowed chats (chat id terms). It is a Bleve query
// of its own so that it can expand the words to the index's terms once and
// push the chat filter down to each term (maxScopedTerms).
type matchQuery struct {
	words [][]alternative
	chats []string
}

// weightedTerm is an indexed term a query word part expands to.
type weightedTerm struct {
	term  string
	boost float64
}

// Searcher implements query.Query.
func (q *matchQuery) Searcher(ctx context.Context, r index.IndexReader, _ mapping.IndexMapping, opts search.SearcherOptions) (search.Searcher, error) {
	// Expand first: the number of terms decides where the filter goes.
	expanded := make([][][][]weightedTerm, len(q.words)) // word, alternative, part, terms
	total := 0
	for i, alts := range q.words {
		expanded[i] = make([][][]weightedTerm, len(alts))
		for j, alt := range alts {
			expanded[i][j] = make([][]weightedTerm, len(alt.parts))
			for k, p := range alt.parts {
				terms, err := expand(r, alt.field, p)
				if err != nil {
					return nil, err
				}
				expanded[i][j][k] = terms
				total += len(terms)
			}
		}
	}
	scoped := total*len(q.chats) <= maxScopedTerms

	var open []search.Searcher // closed on failure
	fail := func(err error) (search.Searcher, error) {
		for _, s := range open {
			_ = s.Close()
		}
		return nil, err
	}
	words := make([]search.Searcher, 0, len(q.words))
	for i := range q.words {
		var alts []search.Searcher
		for j, alt := range q.words[i] {
			parts, ok := make([]search.Searcher, 0, len(alt.parts)), true
			for k := range alt.parts {
				terms := expanded[i][j][k]
				if len(terms) == 0 {
					ok = false // a part no term matches: the alternative cannot match
					break
				}
				ts := make([]search.Searcher, 0, len(terms))
				for _, t := range terms {
					s, err := searcher.NewTermSearcher(ctx, r, t.term, alt.field, t.boost, opts)
					if err != nil {
						return fail(err)
					}
					if scoped {
						if s, err = q.inChats(ctx, r, s, opts); err != nil {
							return fail(err)
						}
					}
					ts = append(ts, s)
					open = append(open, s)
				}
				s, err := disjunction(ctx, r, ts, opts)
				if err != nil {
					return fail(err)
				}
				parts = append(parts, s)
				open = append(open, s)
			}
			if !ok {
				continue
			}
			s, err := conjunction(ctx, r, parts, opts)
			if err != nil {
				return fail(err)
			}
			alts = append(alts, s)
			open = append(open, s)
		}
		if len(alts) == 0 {
			// A word found nowhere: nothing matches them all.
			for _, s := range open {
				_ = s.Close()
			}
			return searcher.NewMatchNoneSearcher(r)
		}
		s, err := disjunction(ctx, r, alts, opts)
		if err != nil {
			return fail(err)
		}
		words = append(words, s)
		open = append(open, s)
	}
	s, err := conjunction(ctx, r, words, opts)
	if err != nil {
		return fail(err)
	}
	if scoped {
		return s, nil
	}
	open = append(open, s)
	if s, err = q.inChats(ctx, r, s, opts); err != nil {
		return fail(err)
	}
	return s, nil
}

// inChats narrows s to the documents of the allowed chats: a conjunction
// with the chat filter, which scores nothing. When s is a term searcher,
// Bleve intersects the two posting lists up front (its conjunction
// optimization) and s then visits only the documents in those chats.
func (q *matchQuery) inChats(ctx context.Context, r index.IndexReader, s search.Searcher, opts search.SearcherOptions) (search.Searcher, error) {
	unscored := search.SearcherOptions{Score: "none"}
	chats := make([]search.Searcher, 0, len(q.chats))
	for _, id := range q.chats {
		c, err := searcher.NewTermSearcher(ctx, r, id, fieldChatID, 0, unscored)
		if err != nil {
			for _, c := range chats {
				_ = c.Close()
			}
			return nil, err
		}
		chats = append(chats, c)
	}
	// Several chats make one unscored disjunction, which Bleve folds into
	// one bitmap of their documents per segment.
	filter, err := disjunction(ctx, r, chats, unscored)
	if err != nil {
		return nil, err
	}
	return searcher.NewConjunctionSearcher(ctx, r, []search.Searcher{s, filter}, opts)
}

func disjunction(ctx context.Context, r index.IndexReader, ss []search.Searcher, opts search.SearcherOptions) (search.Searcher, error) {
	if len(ss) == 1 {
		return ss[0], nil
	}
	s, err := searcher.NewDisjunctionSearcher(ctx, r, ss, 1, opts)
	if err != nil {
		closeAll(ss)
	}
	return s, err
}

func conjunction(ctx context.Context, r index.IndexReader, ss []search.Searcher, opts search.SearcherOptions) (search.Searcher, error) {
	if len(ss) == 1 {
		return ss[0], nil
	}
	s, err := searcher.NewConjunctionSearcher(ctx, r, ss, opts)
	if err != nil {
		closeAll(ss)
	}
	return s, err
}

func closeAll(ss []search.Searcher) {
	for _, s := range ss {
		_ = s.Close()
	}
}

// expand lists the terms of field that w matches (see prefixBoost), in
// order.
func expand(r index.IndexReader, field, w string) ([]weightedTerm, error) {
	boosts := map[string]float64{}
	collect := func(d index.FieldDict, err error, boost func(*index.DictEntry) float64) error {
		if err != nil {
			return err
		}
		for {
			e, err := d.Next()
			if err != nil || e == nil {
				if cerr := d.Close(); err == nil {
					err = cerr
				}
				return err
			}
			boosts[e.Term] += boost(e)
		}
	}
	d, err := r.FieldDictPrefix(field, []byte(w))
	err = collect(d, err, func(*index.DictEntry) float64 { return prefixBoost })
	if err == nil && utf8.RuneCountInString(w) >= minFuzzyRunes {
		fr, ok := r.(index.IndexReaderFuzzy)
		if !ok {
			return nil, errors.New("bleve: the index reader has no fuzzy dictionary")
		}
		d, err = fr.FieldDictFuzzy(field, w, 1, "")
		err = collect(d, err, func(e *index.DictEntry) float64 { return fuzzyBoost / float64(e.EditDistance+1) })
	}
	if err != nil {
		return nil, fmt.Errorf("bleve: terms of %q in %s: %w", w, field, err)
	}
	out := make([]weightedTerm, 0, len(boosts))
	for t, b := range boosts {
		out = append(out, weightedTerm{t, b})
	}
	slices.SortFunc(out, func(a, b weightedTerm) int { return strings.Compare(a.term, b.term) })
	return out, nil
}
