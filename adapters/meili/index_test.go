package meili_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"

	"github.com/fechatter/fechatter/adapters/meili"
	"github.com/fechatter/fechatter/adapters/meili/meilitest"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

const testKey = "test-master-key"

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newIndex(t *testing.T, url, key, uid string) *meili.Index {
	t.Helper()
	x, err := meili.New(url, key, uid, meili.WithTaskPollInterval(time.Millisecond))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return x
}

// ready returns an index on a fresh fake, with its settings applied.
func ready(t *testing.T) (*meili.Index, *meilitest.Fake) {
	t.Helper()
	f := meilitest.New(t, testKey)
	x := newIndex(t, f.URL(), testKey, "")
	if err := x.EnsureSettings(ctxFor(t)); err != nil {
		t.Fatalf("EnsureSettings: %v", err)
	}
	return x, f
}

func TestMeiliContract(t *testing.T) {
	url := os.Getenv("MEILI_URL")
	if url == "" {
		t.Skip("skipping: MEILI_URL is not set (Meilisearch cannot run on this machine); " +
			"TestMeiliContractOnFake and the request tests run the adapter against a fake server instead")
	}
	key := os.Getenv("MEILI_MASTER_KEY")
	var b [6]byte
	_, _ = rand.Read(b[:])
	uid := "fechatter_test_" + hex.EncodeToString(b[:])
	x := newIndex(t, url, key, uid)
	if err := x.Ping(ctxFor(t)); err != nil {
		t.Fatalf("Meilisearch at %s (MEILI_URL) is not available: %v", url, err)
	}
	t.Cleanup(func() {
		opts := []meilisearch.Option{}
		if key != "" {
			opts = append(opts, meilisearch.WithAPIKey(key))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = meilisearch.New(url, opts...).DeleteIndex(ctx, uid)
	})
	if err := x.EnsureSettings(ctxFor(t)); err != nil {
		t.Fatalf("EnsureSettings: %v", err)
	}
	if err := x.EnsureSettings(ctxFor(t)); err != nil {
		t.Fatalf("EnsureSettings again: %v", err)
	}
	porttest.RunSearchIndex(t, func(*testing.T) ports.SearchIndex { return x })
}

func TestMeiliContractOnFake(t *testing.T) {
	x, _ := ready(t)
	porttest.RunSearchIndex(t, func(*testing.T) ports.SearchIndex { return x })
}

func TestMeiliNewRefusesBadURL(t *testing.T) {
	for _, u := range []string{"", "localhost:7700", "://x"} {
		if _, err := meili.New(u, "", ""); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

func TestMeiliEnsureSettingsRequests(t *testing.T) {
	f := meilitest.New(t, testKey)
	x := newIndex(t, f.URL(), testKey, "")
	ctx := ctxFor(t)
	if err := x.EnsureSettings(ctx); err != nil {
		t.Fatalf("EnsureSettings: %v", err)
	}

	creates := f.RequestsTo(http.MethodPost, "/indexes")
	if len(creates) != 1 {
		t.Fatalf("POST /indexes sent %d times, want 1", len(creates))
	}
	assertJSON(t, "create index body", creates[0].Body, `{"uid":"messages","primaryKey":"id"}`)

	patches := f.RequestsTo(http.MethodPatch, "/indexes/messages/settings")
	if len(patches) != 1 {
		t.Fatalf("PATCH /indexes/messages/settings sent %d times, want 1", len(patches))
	}
	assertJSON(t, "settings body", patches[0].Body, `{
		"searchableAttributes": ["content", "file_names", "mention_names"],
		"filterableAttributes": ["chat_id", "sender_id", "workspace_id"],
		"sortableAttributes": ["created_at", "seq"],
		"typoTolerance": {"enabled": true, "minWordSizeForTypos": {"oneTypo": 4, "twoTypos": 9}}
	}`)
	if ct := patches[0].ContentType; !strings.HasPrefix(ct, "application/json") {
		t.Errorf("settings Content-Type = %q", ct)
	}

	for _, r := range f.AllRequests() {
		if r.Path != "/health" && r.Auth != "Bearer "+testKey {
			t.Errorf("%s %s: Authorization = %q, want Bearer key", r.Method, r.Path, r.Auth)
		}
	}
	// Both tasks were polled until finished, through their stages.
	for uid := int64(1); uid <= 2; uid++ {
		if got := f.Task(uid).Served; !reflect.DeepEqual(got, []string{"processing", "succeeded"}) {
			t.Errorf("task %d was answered %v, want processing then succeeded", uid, got)
		}
	}

	// Again: the index exists, the creation task fails with
	// index_already_exists, and that is fine.
	if err := x.EnsureSettings(ctx); err != nil {
		t.Fatalf("EnsureSettings again: %v", err)
	}
	if got := f.Task(3); got.Status != "failed" || got.ErrCode != "index_already_exists" {
		t.Errorf("second creation task: %s %s, want failed index_already_exists", got.Status, got.ErrCode)
	}
}

func TestMeiliEnsureSettingsFailure(t *testing.T) {
	f := meilitest.New(t, testKey)
	x := newIndex(t, f.URL(), testKey, "")
	ctx := ctxFor(t)

	f.FailNextTask("invalid_state", "index creation broke")
	if err := x.EnsureSettings(ctx); err == nil || !errors.Is(err, meili.ErrTaskFailed) || !strings.Contains(err.Error(), "invalid_state") {
		t.Errorf("failed creation task: err = %v, want a task failure naming the code", err)
	}
	if err := x.EnsureSettings(ctx); err != nil {
		t.Fatalf("EnsureSettings: %v", err)
	}
	f.FailNextTask("invalid_settings_filterable_attributes", "bad settings")
	if err := x.EnsureSettings(ctx); err == nil || !errors.Is(err, meili.ErrTaskFailed) {
		t.Errorf("failed settings task: err = %v, want ErrTaskFailed", err)
	}
	f.FailNextRequest(http.MethodPatch, "/indexes/messages/settings", http.StatusInternalServerError)
	if err := x.EnsureSettings(ctx); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("settings answered 500: err = %v", err)
	}
}

func TestMeiliWritesBeforeSettingsFail(t *testing.T) {
	// Without EnsureSettings the index has no primary key and Meilisearch
	// cannot infer one from id, chat_id, sender_id, workspace_id: the task
	// fails, and so does Upsert.
	f := meilitest.New(t, testKey)
	x := newIndex(t, f.URL(), testKey, "")
	err := x.Upsert(ctxFor(t), []ports.SearchDocument{{ID: 1, ChatID: 2, Content: "hi"}})
	if !errors.Is(err, meili.ErrTaskFailed) {
		t.Errorf("Upsert before EnsureSettings: err = %v, want a failed task", err)
	}
}

func TestMeiliUpsertRequest(t *testing.T) {
	x, f := ready(t)
	created := time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	docs := []ports.SearchDocument{
		{ID: 11, ChatID: 21, WorkspaceID: 31, SenderID: 41, Seq: 51, Content: "first <b>one</b>", CreatedAt: created},
		{ID: 12, ChatID: 22, WorkspaceID: 31, SenderID: 42, Seq: 1, Content: "second", CreatedAt: created.Add(time.Second),
			FileNames: []string{"q3.pdf"}, MentionNames: []string{"Bob Builder", "bob"}},
	}
	before := f.TaskCount()
	if err := x.Upsert(ctxFor(t), docs); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	reqs := f.RequestsTo(http.MethodPost, "/indexes/messages/documents")
	if len(reqs) != 1 {
		t.Fatalf("POST /indexes/messages/documents sent %d times, want 1", len(reqs))
	}
	if reqs[0].RawQuery != "" {
		t.Errorf("documents query %q: the primary key is set at index creation, not per write", reqs[0].RawQuery)
	}
	assertJSON(t, "documents body", reqs[0].Body, `[
		{"id":11,"chat_id":21,"workspace_id":31,"sender_id":41,"seq":51,"content":"first <b>one</b>","file_names":[],"mention_names":[],"created_at":1741064767890},
		{"id":12,"chat_id":22,"workspace_id":31,"sender_id":42,"seq":1,"content":"second","file_names":["q3.pdf"],"mention_names":["Bob Builder","bob"],"created_at":1741064768890}
	]`)
	task := f.Task(int64(before + 1))
	if task.Type != "documentAdditionOrUpdate" || !reflect.DeepEqual(task.Served, []string{"processing", "succeeded"}) {
		t.Errorf("task %s answered %v, want documentAdditionOrUpdate polled to succeeded", task.Type, task.Served)
	}
	if got := f.RequestsTo(http.MethodGet, "/tasks/3"); len(got) != 2 {
		t.Errorf("GET /tasks/3 polled %d times, want 2", len(got))
	}

	if err := x.Upsert(ctxFor(t), nil); err != nil {
		t.Errorf("Upsert(nil): %v", err)
	}
	if got := len(f.RequestsTo(http.MethodPost, "/indexes/messages/documents")); got != 1 {
		t.Errorf("an empty Upsert sent a request")
	}
}

func TestMeiliDeleteRequest(t *testing.T) {
	x, f := ready(t)
	if err := x.Delete(ctxFor(t), []int64{5, 4503599627370495}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	reqs := f.RequestsTo(http.MethodPost, "/indexes/messages/documents/delete-batch")
	if len(reqs) != 1 {
		t.Fatalf("POST delete-batch sent %d times, want 1", len(reqs))
	}
	assertJSON(t, "delete body", reqs[0].Body, `["5","4503599627370495"]`)
	if err := x.Delete(ctxFor(t), nil); err != nil {
		t.Errorf("Delete(nil): %v", err)
	}
	if got := len(f.RequestsTo(http.MethodPost, "/indexes/messages/documents/delete-batch")); got != 1 {
		t.Errorf("an empty Delete sent a request")
	}
}

func TestMeiliFailedTaskIsAnError(t *testing.T) {
	x, f := ready(t)
	ctx := ctxFor(t)
	doc := ports.SearchDocument{ID: 1, ChatID: 2, Content: "kept"}

	f.FailNextTask("invalid_document_id", "Document identifier `x` is invalid.")
	err := x.Upsert(ctx, []ports.SearchDocument{doc})
	if !errors.Is(err, meili.ErrTaskFailed) || !strings.Contains(err.Error(), "invalid_document_id") {
		t.Errorf("Upsert with a failed task: err = %v, want ErrTaskFailed with the code", err)
	}
	if err := x.Upsert(ctx, []ports.SearchDocument{doc}); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	f.FailNextTask("internal", "boom")
	if err := x.Delete(ctx, []int64{1}); !errors.Is(err, meili.ErrTaskFailed) {
		t.Errorf("Delete with a failed task: err = %v, want ErrTaskFailed", err)
	}
	// The failed delete changed nothing.
	res, err := x.Search(ctx, ports.SearchQuery{Text: "kept", ChatIDs: []int64{2}})
	if err != nil || len(res.Hits) != 1 {
		t.Errorf("after a failed delete: %+v, %v; want the document still found", res, err)
	}
}

func TestMeiliServerErrors(t *testing.T) {
	x, f := ready(t)
	ctx := ctxFor(t)
	doc := ports.SearchDocument{ID: 1, ChatID: 2, Content: "hello"}

	f.FailNextRequest(http.MethodPost, "/indexes/messages/documents", http.StatusInternalServerError)
	if err := x.Upsert(ctx, []ports.SearchDocument{doc}); err == nil {
		t.Error("Upsert answered 500: nil error")
	}
	f.FailNextRequest(http.MethodPost, "/indexes/messages/documents/delete-batch", http.StatusInternalServerError)
	if err := x.Delete(ctx, []int64{1}); err == nil {
		t.Error("Delete answered 500: nil error")
	}
	if err := x.Upsert(ctx, []ports.SearchDocument{doc}); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	f.FailNextRequest(http.MethodGet, "/tasks/4", http.StatusInternalServerError)
	if err := x.Upsert(ctx, []ports.SearchDocument{doc}); err == nil {
		t.Error("task poll answered 500: nil error")
	}
	f.FailNextRequest(http.MethodPost, "/indexes/messages/search", http.StatusInternalServerError)
	if _, err := x.Search(ctx, ports.SearchQuery{Text: "hello", ChatIDs: []int64{2}}); err == nil {
		t.Error("Search answered 500: nil error")
	}
	if err := x.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	f.FailNextRequest(http.MethodGet, "/health", http.StatusInternalServerError)
	if err := x.Ping(ctx); err == nil {
		t.Error("Ping answered 500: nil error")
	}
}

func TestMeiliUnreachable(t *testing.T) {
	f := meilitest.New(t, testKey)
	url := f.URL()
	f.Close()
	x := newIndex(t, url, testKey, "")
	ctx := ctxFor(t)
	if err := x.Ping(ctx); err == nil {
		t.Error("Ping of a closed server: nil error")
	}
	if err := x.Upsert(ctx, []ports.SearchDocument{{ID: 1, ChatID: 1, Content: "x"}}); err == nil {
		t.Error("Upsert to a closed server: nil error")
	}
}

func TestMeiliWrongKey(t *testing.T) {
	f := meilitest.New(t, testKey)
	for _, key := range []string{"", "wrong"} {
		x := newIndex(t, f.URL(), key, "")
		if err := x.EnsureSettings(ctxFor(t)); err == nil {
			t.Errorf("key %q: EnsureSettings succeeded", key)
		}
		if _, err := x.Search(ctxFor(t), ports.SearchQuery{Text: "x", ChatIDs: []int64{1}}); err == nil {
			t.Errorf("key %q: Search succeeded", key)
		}
	}
}

func TestMeiliSearchRequest(t *testing.T) {
	x, f := ready(t)
	ctx := ctxFor(t)
	if _, err := x.Search(ctx, ports.SearchQuery{Text: "  hello world ", ChatIDs: []int64{3, 1, 2}, Limit: 7, Offset: 14}); err != nil {
		t.Fatalf("Search: %v", err)
	}
	if _, err := x.Search(ctx, ports.SearchQuery{Text: "hello", ChatIDs: []int64{3, 1, 2}, ChatID: 1}); err != nil {
		t.Fatalf("Search one chat: %v", err)
	}
	reqs := f.RequestsTo(http.MethodPost, "/indexes/messages/search")
	if len(reqs) != 2 {
		t.Fatalf("POST /indexes/messages/search sent %d times, want 2", len(reqs))
	}
	var body map[string]any
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatalf("search body: %v", err)
	}
	want := map[string]any{
		"q":                     "hello world",
		"filter":                "chat_id IN [3, 1, 2]",
		"limit":                 float64(7),
		"offset":                float64(14),
		"attributesToHighlight": []any{"content", "file_names", "mention_names"},
		"attributesToCrop":      []any{"content"},
		"matchingStrategy":      "all",
		"highlightPreTag":       "\uE000",
		"highlightPostTag":      "\uE001",
	}
	for k, v := range want {
		if !reflect.DeepEqual(body[k], v) {
			t.Errorf("search body %s = %#v, want %#v", k, body[k], v)
		}
	}
	body = nil
	if err := json.Unmarshal(reqs[1].Body, &body); err != nil {
		t.Fatalf("search body: %v", err)
	}
	if got := body["filter"]; got != "chat_id IN [3, 1, 2] AND chat_id = 1" {
		t.Errorf("single chat filter = %v", got)
	}
	if _, ok := body["offset"]; ok && body["offset"] != float64(0) {
		t.Errorf("offset = %v, want none or 0", body["offset"])
	}
}

func TestMeiliSearchAsksNothingWithoutChats(t *testing.T) {
	x, f := ready(t)
	ctx := ctxFor(t)
	for _, q := range []ports.SearchQuery{
		{Text: "hello"},
		{Text: "hello", ChatIDs: []int64{}},
		{Text: "hello", ChatIDs: []int64{1}, ChatID: 2},
		{Text: "   ", ChatIDs: []int64{1}},
	} {
		res, err := x.Search(ctx, q)
		if err != nil || len(res.Hits) != 0 || res.Hits == nil {
			t.Errorf("%+v: %+v, %v; want no hits (an empty list)", q, res, err)
		}
	}
	if got := f.RequestsTo(http.MethodPost, "/indexes/messages/search"); len(got) != 0 {
		t.Errorf("%d search requests sent, want none", len(got))
	}
}

func TestMeiliSearchAnswer(t *testing.T) {
	x, f := ready(t)
	f.OnSearch(func([]byte) any {
		return json.RawMessage(`{
			"hits": [
				{"id": 4503599627370495, "chat_id": 7, "seq": 3, "content": "say <b>hello</b> & bye",
				 "_formatted": {"id": "4503599627370495", "chat_id": "7", "seq": "3",
				                "content": "…say <b>\uE000hello\uE001</b> & bye"}},
				{"id": 9, "chat_id": 8, "seq": 1, "content": "odd \uE001 tags \uE000open",
				 "_formatted": {"id": "9", "chat_id": "8", "seq": "1", "content": "odd \uE001 tags \uE000open"}},
				{"id": 10, "chat_id": 8, "seq": 2, "content": "see <file>",
				 "_formatted": {"id": "10", "chat_id": "8", "seq": "2", "content": "see <file>",
				                "file_names": ["a.txt", "\uE000hello\uE001-<world>.pdf"], "mention_names": ["Hel\uE000lo\uE001 Kitty", "kitty"]}}
			],
			"query": "hello", "processingTimeMs": 0, "limit": 2, "offset": 0, "estimatedTotalHits": 42
		}`)
	})
	res, err := x.Search(ctxFor(t), ports.SearchQuery{Text: "hello", ChatIDs: []int64{7, 8}, Limit: 2})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	want := ports.SearchResult{EstimatedTotal: 42, Hits: []ports.SearchHit{
		{MessageID: 4503599627370495, ChatID: 7, Seq: 3, Highlight: "…say &lt;b&gt;<mark>hello</mark>&lt;/b&gt; &amp; bye",
			Matched: []string{ports.SearchFieldContent}},
		{MessageID: 9, ChatID: 8, Seq: 1, Highlight: "odd  tags <mark>open</mark>", Matched: []string{ports.SearchFieldContent}},
		{MessageID: 10, ChatID: 8, Seq: 2, Highlight: "<mark>hello</mark>-&lt;world&gt;.pdf",
			Matched: []string{ports.SearchFieldAttachments, ports.SearchFieldMentions}},
	}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("result\n got %+v\nwant %+v", res, want)
	}
}

// assertJSON compares JSON documents by value.
func assertJSON(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v in %s", what, err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expectation: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}
