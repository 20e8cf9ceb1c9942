// Package meilitest is an in-process Meilisearch that follows the
// documented HTTP API (v1) closely enough to check the adapter's requests
// and to stand in for Meilisearch where none can be installed (the
// adapter's tests, the fault suite): indexes, settings, documents, tasks
// that move on when polled, search with filters, typos and highlights.
package meilitest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
)

// Fake is an in-process Meilisearch (see the package comment and
// adapters/meili/doc.go). It is an http.Handler; New also serves it.
type Fake struct {
	key string
	srv *httptest.Server

	mu        sync.Mutex
	indexes   map[string]*fakeIndex
	tasks     map[int64]*fakeTask
	nextTask  int64
	requests  []Request
	failTasks []fakeError           // the next tasks enqueued fail with these
	failHTTP  map[string]int        // "METHOD /path" -> status of the next such request
	onSearch  func(body []byte) any // replaces the search answer when set
}

type fakeIndex struct {
	primaryKey string
	settings   map[string]any
	docs       map[string]map[string]any // by primary key value
}

type fakeError struct{ Code, Message string }

type fakeTask struct {
	uid      int64
	indexUID string
	typ      string
	status   string
	served   []string // statuses answered to GET /tasks/{uid}, in order
	apply    func() *fakeError
	err      *fakeError
	enqueued time.Time
}

type Request struct {
	Method, Path, RawQuery, Auth, ContentType string
	Body                                      []byte
}

// NewHandler returns a fake that answers requests with the master key key
// ("" accepts any) and serves nothing by itself: put it behind a server of
// your own (one that can stop and start again, say).
func NewHandler(key string) *Fake {
	return &Fake{key: key, indexes: map[string]*fakeIndex{}, tasks: map[int64]*fakeTask{},
		failHTTP: map[string]int{}}
}

// New returns a fake served on a loopback port until the test ends.
func New(t testing.TB, key string) *Fake {
	f := NewHandler(key)
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// URL is where New serves the fake.
func (f *Fake) URL() string { return f.srv.URL }

// Close stops serving (New): requests fail as if Meilisearch were down.
func (f *Fake) Close() { f.srv.Close() }

// OnSearch replaces the answer of every search with fn's (nil: the real
// one).
func (f *Fake) OnSearch(fn func(body []byte) any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onSearch = fn
}

// Documents counts the documents of index uid.
func (f *Fake) Documents(uid string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ix := f.indexes[uid]; ix != nil {
		return len(ix.docs)
	}
	return 0
}

// FailNextTask makes the next task enqueued fail with code.
func (f *Fake) FailNextTask(code, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failTasks = append(f.failTasks, fakeError{code, message})
}

// FailNextRequest answers the next request to method path with status.
func (f *Fake) FailNextRequest(method, path string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failHTTP[method+" "+path] = status
}

// RequestsTo returns the recorded requests with that method and path.
func (f *Fake) RequestsTo(method, path string) []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Request
	for _, r := range f.requests {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (f *Fake) AllRequests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// TaskInfo is what the fake knows of a task.
type TaskInfo struct {
	Type, Status string
	Served       []string // the statuses GET /tasks/{uid} answered, in order
	ErrCode      string   // of a failed task
}

// Task describes task uid.
func (f *Fake) Task(uid int64) TaskInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tasks[uid]
	ti := TaskInfo{Type: t.typ, Status: t.status, Served: slices.Clone(t.served)}
	if t.err != nil {
		ti.ErrCode = t.err.Code
	}
	return ti
}

func (f *Fake) TaskCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tasks)
}

var (
	indexPath  = regexp.MustCompile(`^/indexes/([A-Za-z0-9_-]+)/(settings|documents|documents/delete-batch|search)$`)
	taskPath   = regexp.MustCompile(`^/tasks/(\d+)$`)
	filterExpr = regexp.MustCompile(`^chat_id IN \[(-?\d+(?:, -?\d+)*)\](?: AND chat_id = (-?\d+))?$`)
)

// ServeHTTP answers one request of the Meilisearch API.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := readAll(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: body})

	if status, ok := f.failHTTP[r.Method+" "+r.URL.Path]; ok {
		delete(f.failHTTP, r.Method+" "+r.URL.Path)
		writeError(w, status, "internal", "fake failure", "internal")
		return
	}
	if r.URL.Path == "/health" && r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, map[string]string{"status": "available"})
		return
	}
	if f.key != "" {
		auth := r.Header.Get("Authorization")
		if auth == "" {
			writeError(w, http.StatusUnauthorized, "missing_authorization_header",
				"The Authorization header is missing. It must use the bearer authorization method.", "auth")
			return
		}
		if auth != "Bearer "+f.key {
			writeError(w, http.StatusForbidden, "invalid_api_key", "The provided API key is invalid.", "auth")
			return
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodDelete && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "invalid_content_type", "The Content-Type header must be application/json.", "invalid_request")
		return
	}

	if r.URL.Path == "/indexes" && r.Method == http.MethodPost {
		f.createIndex(w, body)
		return
	}
	if m := taskPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
		uid, _ := strconv.ParseInt(m[1], 10, 64)
		f.getTask(w, uid)
		return
	}
	m := indexPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeError(w, http.StatusNotFound, "not_found", "Not found", "invalid_request")
		return
	}
	uid, route := m[1], m[2]
	switch {
	case route == "settings" && r.Method == http.MethodPatch:
		f.updateSettings(w, uid, body)
	case route == "documents" && r.Method == http.MethodPost:
		f.addDocuments(w, uid, r.URL.Query().Get("primaryKey"), body)
	case route == "documents/delete-batch" && r.Method == http.MethodPost:
		f.deleteDocuments(w, uid, body)
	case route == "search" && r.Method == http.MethodPost:
		f.search(w, uid, body)
	default:
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed", "invalid_request")
	}
}

// enqueue registers a task whose apply runs when a poll finishes it, and
// answers 202 with the summarized task.
func (f *Fake) enqueue(w http.ResponseWriter, indexUID, typ string, apply func() *fakeError) {
	f.nextTask++
	t := &fakeTask{uid: f.nextTask, indexUID: indexUID, typ: typ, status: "enqueued", apply: apply, enqueued: time.Now().UTC()}
	if len(f.failTasks) > 0 {
		e := f.failTasks[0]
		f.failTasks = f.failTasks[1:]
		t.apply = func() *fakeError { return &e }
	}
	f.tasks[t.uid] = t
	writeJSON(w, http.StatusAccepted, map[string]any{"taskUid": t.uid, "indexUid": indexUID, "status": "enqueued",
		"type": typ, "enqueuedAt": t.enqueued.Format(time.RFC3339Nano)})
}

// getTask answers GET /tasks/{uid}, moving the task one step on each poll:
// enqueued, processing, then succeeded or failed.
func (f *Fake) getTask(w http.ResponseWriter, uid int64) {
	t, ok := f.tasks[uid]
	if !ok {
		writeError(w, http.StatusNotFound, "task_not_found", fmt.Sprintf("Task `%d` not found.", uid), "invalid_request")
		return
	}
	switch t.status {
	case "enqueued":
		t.status = "processing"
	case "processing":
		if e := t.apply(); e != nil {
			t.status, t.err = "failed", e
		} else {
			t.status = "succeeded"
		}
	}
	t.served = append(t.served, t.status)
	var errObj any
	if t.err != nil {
		errObj = map[string]string{"message": t.err.Message, "code": t.err.Code, "type": "invalid_request",
			"link": "https://docs.meilisearch.com/errors#" + t.err.Code}
	}
	writeJSON(w, http.StatusOK, map[string]any{"uid": t.uid, "batchUid": nil, "indexUid": t.indexUID,
		"status": t.status, "type": t.typ, "canceledBy": nil, "details": map[string]any{}, "error": errObj,
		"duration": nil, "enqueuedAt": t.enqueued.Format(time.RFC3339Nano), "startedAt": nil, "finishedAt": nil})
}

func (f *Fake) createIndex(w http.ResponseWriter, body []byte) {
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error(), "invalid_request")
		return
	}
	uid, _ := req["uid"].(string)
	pk, _ := req["primaryKey"].(string)
	if uid == "" {
		writeError(w, http.StatusBadRequest, "missing_index_uid", "Missing field `uid`", "invalid_request")
		return
	}
	f.enqueue(w, uid, "indexCreation", func() *fakeError {
		if _, ok := f.indexes[uid]; ok {
			return &fakeError{"index_already_exists", fmt.Sprintf("Index `%s` already exists.", uid)}
		}
		f.indexes[uid] = &fakeIndex{primaryKey: pk, settings: map[string]any{}, docs: map[string]map[string]any{}}
		return nil
	})
}

// index returns uid's index, creating it without a primary key as
// Meilisearch does on a settings update or a document addition.
func (f *Fake) index(uid string) *fakeIndex {
	ix, ok := f.indexes[uid]
	if !ok {
		ix = &fakeIndex{settings: map[string]any{}, docs: map[string]map[string]any{}}
		f.indexes[uid] = ix
	}
	return ix
}

var knownSettings = []string{"displayedAttributes", "searchableAttributes", "filterableAttributes",
	"sortableAttributes", "rankingRules", "stopWords", "synonyms", "distinctAttribute", "typoTolerance",
	"faceting", "pagination", "proximityPrecision", "separatorTokens", "nonSeparatorTokens", "dictionary",
	"searchCutoffMs", "localizedAttributes"}

func (f *Fake) updateSettings(w http.ResponseWriter, uid string, body []byte) {
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error(), "invalid_request")
		return
	}
	for k := range req {
		if !slices.Contains(knownSettings, k) {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("Unknown field `%s`", k), "invalid_request")
			return
		}
	}
	if tt, ok := req["typoTolerance"].(map[string]any); ok {
		for k := range tt { // Meilisearch 1.11 knows these only
			if !slices.Contains([]string{"enabled", "minWordSizeForTypos", "disableOnWords", "disableOnAttributes"}, k) {
				writeError(w, http.StatusBadRequest, "invalid_settings_typo_tolerance",
					fmt.Sprintf("Unknown field `%s` inside `.typoTolerance`", k), "invalid_request")
				return
			}
		}
	}
	f.enqueue(w, uid, "settingsUpdate", func() *fakeError {
		ix := f.index(uid)
		for k, v := range req {
			ix.settings[k] = v
		}
		return nil
	})
}

func (f *Fake) addDocuments(w http.ResponseWriter, uid, primaryKey string, body []byte) {
	var docs []map[string]any
	if err := json.Unmarshal(body, &docs); err != nil {
		writeError(w, http.StatusBadRequest, "malformed_payload", err.Error(), "invalid_request")
		return
	}
	f.enqueue(w, uid, "documentAdditionOrUpdate", func() *fakeError {
		ix := f.index(uid)
		if primaryKey != "" {
			if ix.primaryKey != "" {
				return &fakeError{"index_primary_key_already_exists", "Index already has a primary key: `" + ix.primaryKey + "`."}
			}
			ix.primaryKey = primaryKey
		}
		if ix.primaryKey == "" {
			var candidates []string
			for k := range docs[0] {
				if strings.HasSuffix(strings.ToLower(k), "id") {
					candidates = append(candidates, k)
				}
			}
			if len(candidates) != 1 {
				return &fakeError{"index_primary_key_multiple_candidates_found", "The primary key inference failed"}
			}
			ix.primaryKey = candidates[0]
		}
		for _, d := range docs {
			key, ok := docKey(d[ix.primaryKey])
			if !ok {
				return &fakeError{"missing_document_id", "Document doesn't have a `" + ix.primaryKey + "` attribute"}
			}
			ix.docs[key] = d
		}
		return nil
	})
}

func (f *Fake) deleteDocuments(w http.ResponseWriter, uid string, body []byte) {
	var ids []any
	if err := json.Unmarshal(body, &ids); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error(), "invalid_request")
		return
	}
	f.enqueue(w, uid, "documentDeletion", func() *fakeError {
		ix := f.index(uid)
		for _, id := range ids {
			if key, ok := docKey(id); ok {
				delete(ix.docs, key)
			}
		}
		return nil
	})
}

// docKey is a document id as Meilisearch keeps it: an integer or a string.
func docKey(v any) (string, bool) {
	switch v := v.(type) {
	case float64:
		if v != float64(int64(v)) {
			return "", false
		}
		return strconv.FormatInt(int64(v), 10), true
	case string:
		return v, v != ""
	}
	return "", false
}

type searchRequest struct {
	Q                     string   `json:"q"`
	Offset                *int     `json:"offset"`
	Limit                 *int     `json:"limit"`
	Filter                any      `json:"filter"`
	AttributesToRetrieve  []string `json:"attributesToRetrieve"`
	AttributesToHighlight []string `json:"attributesToHighlight"`
	HighlightPreTag       *string  `json:"highlightPreTag"`
	HighlightPostTag      *string  `json:"highlightPostTag"`
	MatchingStrategy      string   `json:"matchingStrategy"`
}

func (f *Fake) search(w http.ResponseWriter, uid string, body []byte) {
	if f.onSearch != nil {
		writeJSON(w, http.StatusOK, f.onSearch(body))
		return
	}
	ix, ok := f.indexes[uid]
	if !ok {
		writeError(w, http.StatusNotFound, "index_not_found", "Index `"+uid+"` not found.", "invalid_request")
		return
	}
	var req searchRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error(), "invalid_request")
		return
	}
	allowed, err := ix.parseFilter(req.Filter)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_search_filter", err.Error(), "invalid_request")
		return
	}
	pre, post := "<em>", "</em>"
	if req.HighlightPreTag != nil {
		pre = *req.HighlightPreTag
	}
	if req.HighlightPostTag != nil {
		post = *req.HighlightPostTag
	}
	terms := fakeWords(req.Q)
	oneTypo := ix.oneTypo()

	searchable := ix.searchable()
	var keys []string
	for key, d := range ix.docs {
		chat, _ := d["chat_id"].(float64)
		if allowed != nil && !allowed(int64(chat)) {
			continue
		}
		var words []string
		for _, attr := range searchable {
			for _, s := range stringsOf(d[attr]) {
				words = append(words, fakeWords(s)...)
			}
		}
		if len(terms) > 0 && matchAll(words, terms, oneTypo, req.MatchingStrategy) {
			keys = append(keys, key)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		ai, _ := strconv.ParseInt(a, 10, 64)
		bi, _ := strconv.ParseInt(b, 10, 64)
		return cmp.Compare(ai, bi)
	})
	offset, limit := 0, 20
	if req.Offset != nil {
		offset = *req.Offset
	}
	if req.Limit != nil {
		limit = *req.Limit
	}
	page := keys[min(offset, len(keys)):min(offset+limit, len(keys))]
	hits := make([]map[string]any, 0, len(page))
	for _, key := range page {
		d := ix.docs[key]
		hit, formatted := map[string]any{}, map[string]any{}
		for k, v := range d {
			if len(req.AttributesToRetrieve) > 0 && !slices.Contains(req.AttributesToRetrieve, k) && !slices.Contains(req.AttributesToRetrieve, "*") {
				continue
			}
			hit[k] = v
			switch v := v.(type) {
			case float64: // _formatted holds numbers as strings
				formatted[k] = strconv.FormatFloat(v, 'f', -1, 64)
			case string:
				if slices.Contains(req.AttributesToHighlight, k) {
					formatted[k] = highlightWords(v, terms, oneTypo, pre, post)
				} else {
					formatted[k] = v
				}
			case []any: // arrays are highlighted element by element
				out := make([]any, len(v))
				for i, e := range v {
					if s, ok := e.(string); ok && slices.Contains(req.AttributesToHighlight, k) {
						out[i] = highlightWords(s, terms, oneTypo, pre, post)
					} else {
						out[i] = e
					}
				}
				formatted[k] = out
			}
		}
		if len(req.AttributesToHighlight) > 0 {
			hit["_formatted"] = formatted
		}
		hits = append(hits, hit)
	}
	writeJSON(w, http.StatusOK, map[string]any{"hits": hits, "query": req.Q, "processingTimeMs": 1,
		"limit": limit, "offset": offset, "estimatedTotalHits": len(keys)})
}

// parseFilter accepts the filters the adapter sends, on a filterable
// chat_id, and refuses anything else as Meilisearch refuses bad syntax.
func (ix *fakeIndex) parseFilter(filter any) (func(int64) bool, error) {
	if filter == nil {
		return nil, nil
	}
	s, ok := filter.(string)
	if !ok {
		return nil, fmt.Errorf("fake supports string filters only, got %T", filter)
	}
	filterable, _ := ix.settings["filterableAttributes"].([]any)
	if !slices.Contains(filterable, any("chat_id")) {
		//lint:ignore ST1005 Meilisearch's own message, verbatim
		return nil, fmt.Errorf("Attribute `chat_id` is not filterable. Available filterable attributes are: `%v`.", filterable)
	}
	m := filterExpr.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("was expecting `chat_id IN [ids]` with an optional `AND chat_id = id`, got %q", s)
	}
	in := map[int64]bool{}
	for _, p := range strings.Split(m[1], ", ") {
		id, _ := strconv.ParseInt(p, 10, 64)
		in[id] = true
	}
	var only int64
	if m[2] != "" {
		only, _ = strconv.ParseInt(m[2], 10, 64)
	}
	return func(id int64) bool { return in[id] && (only == 0 || id == only) }, nil
}

// searchable is the searchableAttributes setting (all attributes, "*",
// by default: the fake then searches content only, the one text the
// adapter's documents had before names).
func (ix *fakeIndex) searchable() []string {
	list, _ := ix.settings["searchableAttributes"].([]any)
	var out []string
	for _, a := range list {
		if s, ok := a.(string); ok && s != "*" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return []string{"content"}
	}
	return out
}

// stringsOf is a string attribute, or the strings of an array attribute.
func stringsOf(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// oneTypo is the configured minimum word size for one typo (5 by default).
func (ix *fakeIndex) oneTypo() int {
	tt, _ := ix.settings["typoTolerance"].(map[string]any)
	sizes, _ := tt["minWordSizeForTypos"].(map[string]any)
	if n, ok := sizes["oneTypo"].(float64); ok {
		return int(n)
	}
	return 5
}

// fakeWords lower-cases and splits text into words; each Han character is
// a word of its own (Meilisearch segments Chinese into words; single
// characters are close enough here).
func fakeWords(text string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = nil
		}
	}
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.Is(unicode.Han, r):
			flush()
			out = append(out, string(r))
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			cur = append(cur, r)
		default:
			flush()
		}
	}
	flush()
	return out
}

// termMatch tells how much of word the query term matches: the whole word
// (exact, or one typo from oneTypo letters), a prefix (last term only), or
// nothing (0).
func termMatch(word, term string, last bool, oneTypo int) int {
	w, t := []rune(word), []rune(term)
	switch {
	case word == term:
		return len(w)
	case last && strings.HasPrefix(word, term):
		return len(t)
	case len(t) >= oneTypo && oneEdit(w, t):
		return len(w)
	}
	return 0
}

func oneEdit(a, b []rune) bool {
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
		return i == len(a) || slices.Equal(a[i+1:], b[i+1:])
	}
	return slices.Equal(a[i+1:], b[i:])
}

func matchAll(words, terms []string, oneTypo int, strategy string) bool {
	if strategy != "all" {
		// "last" (the default) would also return documents matching only
		// the first words; the adapter asks for "all".
		return false
	}
	for i, t := range terms {
		if !slices.ContainsFunc(words, func(w string) bool { return termMatch(w, t, i == len(terms)-1, oneTypo) > 0 }) {
			return false
		}
	}
	return true
}

// highlightWords wraps the matched part of each matching word in pre/post,
// leaving everything else as it is (Meilisearch does not escape).
func highlightWords(text string, terms []string, oneTypo int, pre, post string) string {
	var b strings.Builder
	runes := []rune(text)
	for i := 0; i < len(runes); {
		r := runes[i]
		if !(unicode.IsLetter(r) || unicode.IsNumber(r)) {
			b.WriteRune(r)
			i++
			continue
		}
		j := i + 1
		if !unicode.Is(unicode.Han, r) {
			for j < len(runes) && (unicode.IsLetter(runes[j]) || unicode.IsNumber(runes[j])) && !unicode.Is(unicode.Han, runes[j]) {
				j++
			}
		}
		word := runes[i:j]
		lower := strings.ToLower(string(word))
		n := 0
		for k, t := range terms {
			n = max(n, termMatch(lower, t, k == len(terms)-1, oneTypo))
		}
		if n > 0 {
			n = min(n, len(word))
			b.WriteString(pre + string(word[:n]) + post + string(word[n:]))
		} else {
			b.WriteString(string(word))
		}
		i = j
	}
	return b.String()
}

func readAll(r *http.Request) []byte {
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message, typ string) {
	writeJSON(w, status, map[string]string{"message": message, "code": code, "type": typ,
		"link": "https://docs.meilisearch.com/errors#" + code})
}
