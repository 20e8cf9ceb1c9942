package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

type searchMembers struct {
	chats map[int64][]int64
	err   error
}

func (m searchMembers) MemberChatIDs(_ context.Context, userID int64) ([]int64, error) {
	return m.chats[userID], m.err
}

func (m searchMembers) MemberChatIDsOf(_ context.Context, userIDs []int64) (map[int64][]int64, error) {
	out := map[int64][]int64{}
	for _, u := range userIDs {
		if c := m.chats[u]; len(c) > 0 {
			out[u] = c
		}
	}
	return out, m.err
}

type searchLookup struct {
	msgs  map[int64]query.Message
	err   error
	asked [][]int64
}

func (l *searchLookup) MessagesByIDs(_ context.Context, ids []int64) ([]query.Message, error) {
	l.asked = append(l.asked, slices.Clone(ids))
	if l.err != nil {
		return nil, l.err
	}
	var out []query.Message
	for i := len(ids) - 1; i >= 0; i-- { // any order
		if m, ok := l.msgs[ids[i]]; ok {
			out = append(out, m)
		}
	}
	return out, nil
}

type searchIndex struct {
	res     ports.SearchResult
	err     error
	queries []ports.SearchQuery
}

func (x *searchIndex) Search(_ context.Context, q ports.SearchQuery) (ports.SearchResult, error) {
	x.queries = append(x.queries, q)
	return x.res, x.err
}
func (x *searchIndex) Upsert(context.Context, []ports.SearchDocument) error { return nil }
func (x *searchIndex) Delete(context.Context, []int64) error                { return nil }
func (x *searchIndex) Ping(context.Context) error                           { return nil }

const searchUser = 1

var searchViewer = query.Viewer{UserID: searchUser, WorkspaceID: 9}

func searchMsg(id, chatID int64, content string) query.Message {
	return query.Message{ID: id, ChatID: chatID, Seq: id, SenderID: 2, Content: content, CreatedAt: time.Unix(id, 0).UTC()}
}

type searchFixture struct {
	index   *searchIndex
	lookup  *searchLookup
	members searchMembers
	handler query.SearchMessages
}

func newSearchFixture(chats ...int64) *searchFixture {
	f := &searchFixture{
		index:   &searchIndex{},
		lookup:  &searchLookup{msgs: map[int64]query.Message{}},
		members: searchMembers{chats: map[int64][]int64{searchUser: chats}},
	}
	f.handler = query.NewSearchMessages(f.index, f.members, f.lookup)
	return f
}

func TestSearchMessagesValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    query.SearchParams
	}{
		{"empty q", query.SearchParams{Q: ""}},
		{"blank q", query.SearchParams{Q: " \t\n "}},
		{"q too long", query.SearchParams{Q: strings.Repeat("a", 257)}},
		{"q too long in runes", query.SearchParams{Q: strings.Repeat("é", 257)}},
		{"q not UTF-8", query.SearchParams{Q: "hel\xfflo"}},
		{"negative limit", query.SearchParams{Q: "x", Limit: -1}},
		{"limit over max", query.SearchParams{Q: "x", Limit: 101}},
		{"negative offset", query.SearchParams{Q: "x", Offset: -1}},
		{"offset over max", query.SearchParams{Q: "x", Offset: 1001}},
	} {
		f := newSearchFixture(10)
		_, err := f.handler.Handle(context.Background(), searchViewer, tc.p)
		if !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: err = %v, want Invalid", tc.name, err)
		}
		if len(f.index.queries) != 0 {
			t.Errorf("%s: the index was asked", tc.name)
		}
	}
}

func TestSearchMessagesPassesTheQuery(t *testing.T) {
	f := newSearchFixture(10, 11)
	long := strings.Repeat("é", 256)
	for _, tc := range []struct {
		p    query.SearchParams
		want ports.SearchQuery
	}{
		{query.SearchParams{Q: "  hello  "}, ports.SearchQuery{Text: "hello", ChatIDs: []int64{10, 11}, Limit: 20}},
		{query.SearchParams{Q: long, Limit: 100, Offset: 1000}, ports.SearchQuery{Text: long, ChatIDs: []int64{10, 11}, Limit: 100, Offset: 1000}},
		{query.SearchParams{Q: "x", ChatID: 11, Limit: 1}, ports.SearchQuery{Text: "x", ChatIDs: []int64{10, 11}, ChatID: 11, Limit: 1}},
	} {
		f.index.queries = nil
		if _, err := f.handler.Handle(context.Background(), searchViewer, tc.p); err != nil {
			t.Fatalf("%+v: %v", tc.p, err)
		}
		if len(f.index.queries) != 1 || !reflect.DeepEqual(f.index.queries[0], tc.want) {
			t.Errorf("%+v: index asked %+v, want %+v", tc.p, f.index.queries, tc.want)
		}
	}
}

func TestSearchMessagesChatMustBeTheCallers(t *testing.T) {
	f := newSearchFixture(10)
	for _, chatID := range []int64{12, -3} {
		_, err := f.handler.Handle(context.Background(), searchViewer, query.SearchParams{Q: "x", ChatID: chatID})
		if !errs.Is(err, errs.NotFound) {
			t.Errorf("chat %d: err = %v, want NotFound", chatID, err)
		}
	}
	if len(f.index.queries) != 0 {
		t.Errorf("the index was asked")
	}
}

func TestSearchMessagesWithoutChatsFindsNothing(t *testing.T) {
	f := newSearchFixture()
	res, err := f.handler.Handle(context.Background(), searchViewer, query.SearchParams{Q: "hello"})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if res.Hits == nil || len(res.Hits) != 0 || res.EstimatedTotal != 0 {
		t.Errorf("result %+v, want no hits (an empty list)", res)
	}
	if len(f.index.queries) != 0 {
		t.Errorf("the index was asked with no chats")
	}
	b, _ := json.Marshal(res)
	if !strings.HasPrefix(string(b), `{"hits":[],"estimated_total":0,"took_ms":`) {
		t.Errorf("JSON %s", b)
	}
}

func TestSearchMessagesDropsWhatTheIndexStillHolds(t *testing.T) {
	f := newSearchFixture(10, 11)
	kept, other := searchMsg(1, 10, "hello there"), searchMsg(5, 11, "hello again")
	gone := searchMsg(2, 10, "hello deleted")
	at := time.Unix(100, 0).UTC()
	gone.DeletedAt = &at
	left := searchMsg(3, 12, "hello from a chat I left")
	for _, m := range []query.Message{kept, gone, left, other} {
		f.lookup.msgs[m.ID] = m
	}
	f.index.res = ports.SearchResult{EstimatedTotal: 25, Hits: []ports.SearchHit{
		{MessageID: 5, ChatID: 11, Seq: 5, Highlight: "<mark>hello</mark> again", Matched: []string{ports.SearchFieldContent}},
		{MessageID: 2, ChatID: 10, Seq: 2, Highlight: "<mark>hello</mark> deleted"},
		{MessageID: 3, ChatID: 10, Seq: 3, Highlight: "<mark>hello</mark> from a chat I left"}, // the index still has the old chat
		{MessageID: 4, ChatID: 10, Seq: 4, Highlight: "<mark>hello</mark> purged"},             // not in storage any more
		{MessageID: 1, ChatID: 10, Seq: 1, Highlight: "<mark>hello</mark> there"},
	}}

	res, err := f.handler.Handle(context.Background(), searchViewer, query.SearchParams{Q: "hello"})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	want := []query.SearchHit{
		{Message: other, Highlight: "<mark>hello</mark> again", MatchedIn: []string{"content"}},
		{Message: kept, Highlight: "<mark>hello</mark> there", MatchedIn: []string{}}, // never null
	}
	if !reflect.DeepEqual(res.Hits, want) {
		t.Errorf("hits %+v, want %+v (in index order)", res.Hits, want)
	}
	if res.EstimatedTotal != 22 {
		t.Errorf("estimated_total = %d, want 25 less the 3 dropped", res.EstimatedTotal)
	}
	if len(f.lookup.asked) != 1 || !slices.Equal(f.lookup.asked[0], []int64{5, 2, 3, 4, 1}) {
		t.Errorf("messages loaded: %v, want one lookup of every hit", f.lookup.asked)
	}

	// With a single chat, a hit of another chat is dropped as well.
	res, err = f.handler.Handle(context.Background(), searchViewer, query.SearchParams{Q: "hello", ChatID: 10})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(res.Hits) != 1 || res.Hits[0].Message.ID != 1 {
		t.Errorf("chat 10 only: hits %+v, want message 1", res.Hits)
	}

	b, _ := json.Marshal(res)
	var shape map[string]any
	_ = json.Unmarshal(b, &shape)
	hit := shape["hits"].([]any)[0].(map[string]any)
	if _, ok := hit["message"].(map[string]any)["chat_id"]; !ok || hit["highlight"] != "<mark>hello</mark> there" {
		t.Errorf("hit JSON %v", hit)
	}
	if _, ok := shape["took_ms"]; !ok {
		t.Errorf("no took_ms in %s", b)
	}
}

func TestSearchMessagesEstimateNeverBelowShown(t *testing.T) {
	f := newSearchFixture(10)
	f.lookup.msgs[1] = searchMsg(1, 10, "a")
	f.index.res = ports.SearchResult{EstimatedTotal: 0, Hits: []ports.SearchHit{{MessageID: 1}}}
	res, err := f.handler.Handle(context.Background(), searchViewer, query.SearchParams{Q: "a", Offset: 40})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if res.EstimatedTotal != 41 {
		t.Errorf("estimated_total = %d, want at least offset + hits = 41", res.EstimatedTotal)
	}
	f.index.res = ports.SearchResult{EstimatedTotal: 3}
	res, _ = f.handler.Handle(context.Background(), searchViewer, query.SearchParams{Q: "a", Offset: 40})
	if res.EstimatedTotal != 3 || len(res.Hits) != 0 {
		t.Errorf("past the end: %+v, want no hits and the index's estimate", res)
	}
	if len(f.lookup.asked) != 1 {
		t.Errorf("messages looked up for an empty page")
	}
}

func TestSearchMessagesErrors(t *testing.T) {
	f := newSearchFixture(10)
	f.index.err = errors.New("connection refused")
	if _, err := f.handler.Handle(context.Background(), searchViewer, query.SearchParams{Q: "x"}); !errs.Is(err, errs.Unavailable) {
		t.Errorf("index down: err = %v, want Unavailable", err)
	}

	f = newSearchFixture(10)
	f.index.res = ports.SearchResult{EstimatedTotal: 1, Hits: []ports.SearchHit{{MessageID: 1}}}
	boom := errors.New("db down")
	f.lookup.err = boom
	if _, err := f.handler.Handle(context.Background(), searchViewer, query.SearchParams{Q: "x"}); !errors.Is(err, boom) {
		t.Errorf("lookup failing: err = %v, want it passed on", err)
	}

	f = newSearchFixture(10)
	f.members.err = boom
	f.handler = query.NewSearchMessages(f.index, f.members, f.lookup)
	if _, err := f.handler.Handle(context.Background(), searchViewer, query.SearchParams{Q: "x"}); !errors.Is(err, boom) {
		t.Errorf("membership failing: err = %v, want it passed on", err)
	}
}

func TestNewSearchMessagesRefusesNil(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic on a nil dependency")
		}
	}()
	query.NewSearchMessages(nil, searchMembers{}, &searchLookup{})
}
