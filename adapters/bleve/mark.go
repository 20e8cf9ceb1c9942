package bleve

import (
	"html"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/search"

	"github.com/fechatter/fechatter/ports"
)

// The query finds the page of hits; what each hit matched (SearchHit.Matched)
// and its highlight are then worked out here from the hit's stored text, by
// the query's own rule (matches): the index keeps no term positions, which
// the query would otherwise read for every document it visits, of the page
// or not.

// queryWord is a word of the query as the hits are marked for it: word in
// the content; in a name field every one of parts.
type queryWord struct {
	word  string
	parts []string
}

// matches reports whether the indexed term t is one the query word w
// finds: t starts with w, or w has minFuzzyRunes or more and t is a typo
// away from it (the terms expand lists).
func matches(t, w string) bool {
	return strings.HasPrefix(t, w) || utf8.RuneCountInString(w) >= minFuzzyRunes && oneEditApart(t, w)
}

// oneEditApart reports whether a and b differ by at most one edit: one
// character replaced, added or dropped, or two neighbours swapped (the
// Levenshtein automaton of Bleve's fuzzy dictionary, with transpositions).
func oneEditApart(a, b string) bool {
	if a == b {
		return true
	}
	ra, rb := []rune(a), []rune(b)
	if len(ra) < len(rb) {
		ra, rb = rb, ra
	}
	if len(ra)-len(rb) > 1 {
		return false
	}
	i := 0
	for i < len(rb) && ra[i] == rb[i] {
		i++
	}
	if len(ra) > len(rb) { // one added
		return slices.Equal(ra[i+1:], rb[i:])
	}
	if slices.Equal(ra[i+1:], rb[i+1:]) { // one replaced
		return true
	}
	return i+1 < len(ra) && ra[i] == rb[i+1] && ra[i+1] == rb[i] && slices.Equal(ra[i+2:], rb[i+2:]) // swapped
}

// mark fills hit's Matched and Highlight from its stored fields.
func (x *Index) mark(hit *ports.SearchHit, words []queryWord, fields map[string]any) {
	content, _ := fields[fieldContent].(string)
	locs := search.TermLocationMap{}
	for _, tok := range x.analyzer.Analyze([]byte(content)) {
		t := string(tok.Term)
		for _, w := range words {
			if matches(t, w.word) {
				locs.AddLocation(t, &search.Location{Pos: uint64(tok.Position), Start: uint64(tok.Start), End: uint64(tok.End)})
				break
			}
		}
	}
	if len(locs) > 0 {
		hit.Matched = append(hit.Matched, ports.SearchFieldContent)
		dm := &search.DocumentMatch{Locations: search.FieldTermLocationMap{fieldContent: locs}}
		doc := document.NewDocument("").AddField(document.NewTextField(fieldContent, nil, []byte(content)))
		if frags := x.highlighter.BestFragmentsInField(dm, doc, fieldContent, 1); len(frags) > 0 {
			hit.Highlight = frags[0]
		}
	}
	for _, f := range nameFields {
		names := storedStrings(fields[f.shown])
		shown, marked := markedName(x.nameLocations(names, words), names)
		if shown == "" {
			continue
		}
		hit.Matched = append(hit.Matched, f.matched)
		if len(hit.Matched) == 1 {
			hit.Highlight = marked
		}
	}
	if hit.Highlight == "" {
		hit.Highlight = html.EscapeString(content)
	}
}

// nameLocations finds where words match in names, as the query matches a
// name field: a word counts when each of its parts matches some word of
// the names, and then all those matches are marked.
func (x *Index) nameLocations(names []string, words []queryWord) search.TermLocationMap {
	if len(names) == 0 {
		return nil
	}
	type token struct {
		term  string
		loc   *search.Location
		found bool
	}
	var toks []token
	for i, n := range names {
		for _, tok := range x.analyzer.Analyze([]byte(nameWords(n))) {
			toks = append(toks, token{term: string(tok.Term), loc: &search.Location{
				Pos: uint64(tok.Position), Start: uint64(tok.Start), End: uint64(tok.End), ArrayPositions: search.ArrayPositions{uint64(i)}}})
		}
	}
	locs := search.TermLocationMap{}
	hit := make([]bool, len(toks))
	for _, w := range words {
		if len(w.parts) == 0 {
			continue
		}
		clear(hit)
		all := true
		for _, p := range w.parts {
			found := false
			for i, t := range toks {
				if matches(t.term, p) {
					hit[i], found = true, true
				}
			}
			all = all && found
		}
		if !all {
			continue
		}
		for i, t := range toks {
			if hit[i] && !toks[i].found {
				toks[i].found = true
				locs.AddLocation(t.term, t.loc)
			}
		}
	}
	return locs
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
