package meili

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meilisearch/meilisearch-go"

	"github.com/fechatter/fechatter/ports"
)

var _ ports.SearchIndex = (*Index)(nil)

// DefaultIndex is the uid of the messages index.
const DefaultIndex = "messages"

// Defaults of the task wait.
const (
	DefaultTaskPollInterval = 50 * time.Millisecond
	DefaultTaskTimeout      = 30 * time.Second
)

// Highlight tags asked of Meilisearch: private-use characters no message
// is expected to hold, so the adapter can HTML-escape the text and only
// then turn them into <mark> and </mark> (Meilisearch does not escape).
const (
	preTag  = "\uE000"
	postTag = "\uE001"
)

// cropWords is the length of the highlight excerpt, in words.
const cropWords = 30

// Index is a ports.SearchIndex on a Meilisearch index. Every write waits
// for its task, so a write is searchable once it returned. Call
// EnsureSettings once at start-up, before the first write: it creates the
// index with its primary key and applies the settings.
type Index struct {
	client  meilisearch.ServiceManager
	baseURL string
	key     string
	uid     string
	http    *http.Client
	poll    time.Duration
	timeout time.Duration
}

// Option tunes an Index.
type Option func(*Index)

// WithTaskPollInterval sets how often a task's status is read while
// waiting for it (default DefaultTaskPollInterval).
func WithTaskPollInterval(d time.Duration) Option {
	return func(x *Index) {
		if d > 0 {
			x.poll = d
		}
	}
}

// WithTaskTimeout bounds the wait for one task (default
// DefaultTaskTimeout). A write that times out may still be applied later;
// writes are idempotent, so the caller simply retries.
func WithTaskTimeout(d time.Duration) Option {
	return func(x *Index) {
		if d > 0 {
			x.timeout = d
		}
	}
}

// WithHTTPClient sets the HTTP client (default: one with a 10s timeout).
func WithHTTPClient(c *http.Client) Option {
	return func(x *Index) {
		if c != nil {
			x.http = c
		}
	}
}

// New returns the index named index ("" means DefaultIndex) of the
// Meilisearch at rawURL, authenticating with key (the master key or an API
// key allowed to manage the index; "" for an instance without keys).
func New(rawURL, key, index string, opts ...Option) (*Index, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("meilisearch: invalid url %q", rawURL)
	}
	if index == "" {
		index = DefaultIndex
	}
	x := &Index{
		baseURL: strings.TrimRight(rawURL, "/"),
		key:     key,
		uid:     index,
		http:    &http.Client{Timeout: 10 * time.Second},
		poll:    DefaultTaskPollInterval,
		timeout: DefaultTaskTimeout,
	}
	for _, o := range opts {
		o(x)
	}
	mopts := []meilisearch.Option{meilisearch.WithCustomClient(x.http)}
	if key != "" {
		mopts = append(mopts, meilisearch.WithAPIKey(key))
	}
	x.client = meilisearch.New(x.baseURL, mopts...)
	return x, nil
}

// UID is the index's uid.
func (x *Index) UID() string { return x.uid }

// index returns a fresh handle per call: the SDK's handle caches the
// primary key in an unguarded field, so sharing one across goroutines
// would race.
func (x *Index) index() meilisearch.IndexManager { return x.client.Index(x.uid) }

// settings are the index settings of DESIGN.md. Typo tolerance starts at 4
// letters instead of Meilisearch's 5, so "helo" finds "hello" as it does in
// the Bleve and memory indexes.
var settings = map[string]any{
	"searchableAttributes": []string{"content", "file_names", "mention_names"},
	"filterableAttributes": []string{"chat_id", "sender_id", "workspace_id"},
	"sortableAttributes":   []string{"created_at", "seq"},
	"typoTolerance": map[string]any{
		"enabled":             true,
		"minWordSizeForTypos": map[string]int{"oneTypo": 4, "twoTypos": 9},
	},
}

// EnsureSettings creates the index with primary key id if it does not
// exist and applies the settings, waiting for both tasks. Running it again
// changes nothing.
func (x *Index) EnsureSettings(ctx context.Context) error {
	info, err := x.client.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: x.uid, PrimaryKey: "id"})
	if err != nil {
		return fmt.Errorf("meilisearch: create index %s: %w", x.uid, err)
	}
	task, err := x.await(ctx, info.TaskUID)
	if err != nil {
		return fmt.Errorf("meilisearch: create index %s: %w", x.uid, err)
	}
	if task.Status != meilisearch.TaskStatusSucceeded && task.Error.Code != meilisearch.APIErrCodeIndexAlreadyExists {
		return taskError("create index "+x.uid, task)
	}

	// The settings go out as plain JSON rather than through the SDK's
	// Settings type: its TypoTolerance always carries disableOnNumbers,
	// which Meilisearch before 1.15 rejects as an unknown field (the compose
	// file runs 1.11).
	info, err = x.patchSettings(ctx)
	if err != nil {
		return err
	}
	return x.wait(ctx, info.TaskUID, "update settings of "+x.uid)
}

func (x *Index) patchSettings(ctx context.Context) (*meilisearch.TaskInfo, error) {
	body, err := json.Marshal(settings)
	if err != nil {
		return nil, err
	}
	endpoint := x.baseURL + "/indexes/" + url.PathEscape(x.uid) + "/settings"
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if x.key != "" {
		req.Header.Set("Authorization", "Bearer "+x.key)
	}
	resp, err := x.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("meilisearch: update settings of %s: %w", x.uid, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusAccepted {
		var apiErr meilisearch.APIErrorDetails
		_ = json.Unmarshal(data, &apiErr)
		return nil, fmt.Errorf("meilisearch: update settings of %s: status %d: %s (%s)", x.uid, resp.StatusCode, apiErr.Message, apiErr.Code)
	}
	var info meilisearch.TaskInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("meilisearch: update settings of %s: decode task: %w", x.uid, err)
	}
	return &info, nil
}

// document is a SearchDocument as stored in Meilisearch; created_at is in
// Unix milliseconds so that it sorts as a number.
type document struct {
	ID           int64    `json:"id"`
	ChatID       int64    `json:"chat_id"`
	WorkspaceID  int64    `json:"workspace_id"`
	SenderID     int64    `json:"sender_id"`
	Seq          int64    `json:"seq"`
	Content      string   `json:"content"`
	FileNames    []string `json:"file_names"`
	MentionNames []string `json:"mention_names"`
	CreatedAt    int64    `json:"created_at"`
}

// Upsert adds or replaces documents (POST /indexes/{uid}/documents) and
// waits for the task.
func (x *Index) Upsert(ctx context.Context, docs []ports.SearchDocument) error {
	if len(docs) == 0 {
		return ctx.Err()
	}
	out := make([]document, len(docs))
	for i, d := range docs {
		out[i] = document{ID: d.ID, ChatID: d.ChatID, WorkspaceID: d.WorkspaceID, SenderID: d.SenderID,
			Seq: d.Seq, Content: d.Content, FileNames: orEmpty(d.FileNames), MentionNames: orEmpty(d.MentionNames),
			CreatedAt: d.CreatedAt.UnixMilli()}
	}
	info, err := x.index().AddDocuments(ctx, out, nil)
	if err != nil {
		return fmt.Errorf("meilisearch: upsert %d documents: %w", len(docs), err)
	}
	return x.wait(ctx, info.TaskUID, fmt.Sprintf("upsert %d documents", len(docs)))
}

// Delete removes documents (POST /indexes/{uid}/documents/delete-batch) and
// waits for the task.
func (x *Index) Delete(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return ctx.Err()
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = strconv.FormatInt(id, 10)
	}
	info, err := x.index().DeleteDocuments(ctx, keys, nil)
	if err != nil {
		return fmt.Errorf("meilisearch: delete %d documents: %w", len(ids), err)
	}
	return x.wait(ctx, info.TaskUID, fmt.Sprintf("delete %d documents", len(ids)))
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// hit is the part of a search hit the adapter reads.
type hit struct {
	ID        int64 `json:"id"`
	ChatID    int64 `json:"chat_id"`
	Seq       int64 `json:"seq"`
	Formatted struct {
		Content      string   `json:"content"`
		FileNames    []string `json:"file_names"`
		MentionNames []string `json:"mention_names"`
	} `json:"_formatted"`
}

// Search queries with every word required (each in the content, a file
// name or a mention name), filtered to the allowed chats (chat_id IN
// [...], AND chat_id = x for a single chat), asking for the content
// highlighted and cropped around the matches and the names highlighted:
// what holds a highlight tag is what matched.
func (x *Index) Search(ctx context.Context, q ports.SearchQuery) (ports.SearchResult, error) {
	empty := ports.SearchResult{Hits: []ports.SearchHit{}}
	text := strings.TrimSpace(q.Text)
	if text == "" || len(q.Scope()) == 0 {
		return empty, nil
	}
	limit := q.Limit
	if limit <= 0 {
		limit = ports.DefaultSearchLimit
	}
	req := &meilisearch.SearchRequest{
		Offset:                int64(max(q.Offset, 0)),
		Limit:                 int64(limit),
		Filter:                filter(q),
		AttributesToRetrieve:  []string{"id", "chat_id", "seq", "content", "file_names", "mention_names"},
		AttributesToHighlight: []string{"content", "file_names", "mention_names"},
		AttributesToCrop:      []string{"content"},
		CropLength:            cropWords,
		CropMarker:            "…",
		HighlightPreTag:       preTag,
		HighlightPostTag:      postTag,
		MatchingStrategy:      meilisearch.All,
	}
	res, err := x.index().Search(ctx, text, req)
	if err != nil {
		return ports.SearchResult{}, fmt.Errorf("meilisearch: search: %w", err)
	}
	out := ports.SearchResult{Hits: make([]ports.SearchHit, 0, len(res.Hits)), EstimatedTotal: int(res.EstimatedTotalHits)}
	for _, raw := range res.Hits {
		var h hit
		if err := raw.DecodeInto(&h); err != nil {
			return ports.SearchResult{}, fmt.Errorf("meilisearch: decode hit: %w", err)
		}
		out.Hits = append(out.Hits, hitOf(h))
	}
	return out, nil
}

// hitOf tells which parts of h matched (those with a highlight tag) and
// highlights the content, or else the first name that matched.
func hitOf(h hit) ports.SearchHit {
	out := ports.SearchHit{MessageID: h.ID, ChatID: h.ChatID, Seq: h.Seq}
	if strings.Contains(h.Formatted.Content, preTag) {
		out.Matched = append(out.Matched, ports.SearchFieldContent)
		out.Highlight = markHTML(h.Formatted.Content)
	}
	for _, part := range []struct {
		field string
		names []string
	}{{ports.SearchFieldAttachments, h.Formatted.FileNames}, {ports.SearchFieldMentions, h.Formatted.MentionNames}} {
		i := slices.IndexFunc(part.names, func(n string) bool { return strings.Contains(n, preTag) })
		if i < 0 {
			continue
		}
		out.Matched = append(out.Matched, part.field)
		if out.Highlight == "" {
			out.Highlight = markHTML(part.names[i])
		}
	}
	if out.Highlight == "" {
		out.Highlight = markHTML(h.Formatted.Content)
	}
	return out
}

// filter is chat_id IN [the allowed chats], narrowed with AND chat_id = x
// to a single chat. Ids are integers, so nothing needs quoting.
func filter(q ports.SearchQuery) string {
	var b strings.Builder
	b.WriteString("chat_id IN [")
	for i, id := range q.ChatIDs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteString("]")
	if q.ChatID != 0 {
		b.WriteString(" AND chat_id = ")
		b.WriteString(strconv.FormatInt(q.ChatID, 10))
	}
	return b.String()
}

// markHTML HTML-escapes a highlighted text and turns the highlight tags
// into <mark> and </mark>, balanced whatever the text holds.
func markHTML(s string) string {
	var b strings.Builder
	open := false
	for s != "" {
		i := strings.IndexAny(s, preTag+postTag)
		if i < 0 {
			b.WriteString(html.EscapeString(s))
			break
		}
		b.WriteString(html.EscapeString(s[:i]))
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case string(r) == preTag && !open:
			b.WriteString("<mark>")
			open = true
		case string(r) == postTag && open:
			b.WriteString("</mark>")
			open = false
		}
		s = s[i+size:]
	}
	if open {
		b.WriteString("</mark>")
	}
	return b.String()
}

// Ping asks GET /health.
func (x *Index) Ping(ctx context.Context) error {
	h, err := x.client.Health(ctx)
	if err != nil {
		return fmt.Errorf("meilisearch: health: %w", err)
	}
	if h.Status != "available" {
		return fmt.Errorf("meilisearch: health: status %q", h.Status)
	}
	return nil
}

// await polls GET /tasks/{uid} until the task is finished, for at most the
// task timeout.
func (x *Index) await(ctx context.Context, taskUID int64) (*meilisearch.Task, error) {
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	task, err := x.client.WaitForTask(ctx, taskUID, x.poll)
	if err != nil {
		return nil, fmt.Errorf("wait for task %d: %w", taskUID, err)
	}
	return task, nil
}

// wait awaits a task and turns anything but success into an error.
func (x *Index) wait(ctx context.Context, taskUID int64, what string) error {
	task, err := x.await(ctx, taskUID)
	if err != nil {
		return fmt.Errorf("meilisearch: %s: %w", what, err)
	}
	if task.Status != meilisearch.TaskStatusSucceeded {
		return taskError(what, task)
	}
	return nil
}

// ErrTaskFailed is wrapped by the error of a write whose task failed or was
// canceled.
var ErrTaskFailed = errors.New("meilisearch task did not succeed")

func taskError(what string, task *meilisearch.Task) error {
	uid := task.UID
	if uid == 0 {
		uid = task.TaskUID
	}
	if task.Error.Code != "" || task.Error.Message != "" {
		return fmt.Errorf("meilisearch: %s: task %d %s: %s (%s): %w", what, uid, task.Status, task.Error.Message, task.Error.Code, ErrTaskFailed)
	}
	return fmt.Errorf("meilisearch: %s: task %d %s: %w", what, uid, task.Status, ErrTaskFailed)
}
