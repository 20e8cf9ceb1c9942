package http_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

type presenceJSON struct {
	UserID   int64   `json:"user_id"`
	Status   string  `json:"status"`
	LastSeen *string `json:"last_seen"`
	Platform string  `json:"platform"`
}

type presenceHarness struct {
	*harness
	clock *memory.FakeClock
	bus   *memory.EventBus
}

func newPresenceHarness(t *testing.T) presenceHarness {
	t.Helper()
	clock := memory.NewFakeClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	bus := memory.NewEventBus()
	h := newHarness(t, func(o *memapp.Options) { o.Clock = clock; o.Signals = bus })
	if err := h.env.PresenceWatcher.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.env.PresenceWatcher.Stop)
	return presenceHarness{harness: h, clock: clock, bus: bus}
}

func (h presenceHarness) presence(asker user, ids ...int64) []presenceJSON {
	h.t.Helper()
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	var out struct {
		Presence []presenceJSON `json:"presence"`
	}
	h.must(200, "GET", "/api/v1/presence?user_ids="+strings.Join(s, ","), asker.Token, nil, &out)
	return out.Presence
}

func (h presenceHarness) waitStatus(asker, u user, status string) {
	h.t.Helper()
	porttest.Eventually(h.t, 10*time.Second, fmt.Sprintf("user %d to become %s", u.ID, status), func() bool {
		p := h.presence(asker, u.ID)
		return len(p) == 1 && p[0].Status == status
	})
}

// publish writes what the commands changed, as the presence loop does at
// once in a server.
func (h presenceHarness) publish() {
	h.t.Helper()
	if err := h.env.Presence.Publish(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

func (h presenceHarness) storedLastSeen(u user) time.Time {
	h.t.Helper()
	if err := h.env.Presence.Flush(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	rows, err := h.env.LastSeen.LastSeen(context.Background(), []int64{u.ID})
	if err != nil || len(rows) != 1 {
		h.t.Fatalf("last seen of %d: %v %v", u.ID, rows, err)
	}
	return rows[0].At
}

func TestGetPresence(t *testing.T) {
	t.Parallel()
	h := newPresenceHarness(t)
	owner, members := h.team(1)
	bob := members[0]
	stranger, _ := h.team(0)

	ps := h.presence(owner, bob.ID, stranger.ID, owner.ID, bob.ID)
	if len(ps) != 2 || ps[0].UserID != bob.ID || ps[1].UserID != owner.ID {
		t.Fatalf("got %+v, want bob then the owner, once each, and no stranger", ps)
	}
	for _, p := range ps {
		if p.Status != "offline" || p.LastSeen != nil {
			t.Fatalf("never connected: %+v, want offline with last_seen null", p)
		}
	}
	if ps := h.presence(owner, stranger.ID); len(ps) != 0 {
		t.Fatalf("a user of another workspace: %+v, want left out", ps)
	}

	err := h.env.App.Commands.ConnectPresence.Handle(context.Background(), command.ConnectPresence{
		Actor: command.Actor{UserID: bob.ID, WorkspaceID: bob.WorkspaceID}, ConnID: "c", Platform: "ios"})
	if err != nil {
		t.Fatal(err)
	}
	h.publish()
	h.waitStatus(owner, bob, "online")
	if p := h.presence(owner, bob.ID)[0]; p.Platform != "ios" || p.LastSeen == nil || *p.LastSeen != "2026-11-25T09:00:00Z" {
		t.Fatalf("online: %+v", p)
	}

	many := make([]string, 201)
	for i := range many {
		many[i] = fmt.Sprint(i + 1)
	}
	for _, q := range []string{"", "?user_ids=", "?user_ids=x", "?user_ids=1,,2", "?user_ids=0", "?user_ids=-4",
		"?user_ids=1.5", "?user_ids=1;2", "?user_ids=" + strings.Join(many, ",")} {
		r := h.do("GET", "/api/v1/presence"+q, owner.Token, nil)
		if r.status != 400 || r.errCode(t) != "invalid_argument" {
			t.Errorf("GET /presence%s = %d %s, want 400", clip(q), r.status, r.raw)
		}
	}
	if r := h.do("GET", "/api/v1/presence?user_ids=1", "", nil); r.status != 401 {
		t.Errorf("without a token: %d, want 401", r.status)
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func TestPostTyping(t *testing.T) {
	t.Parallel()
	h := newPresenceHarness(t)
	owner, members := h.team(2)
	bob, carol := members[0], members[1]
	chat := h.createChat(owner, "group", "typing", bob)
	other := h.createChat(bob, "group", "not-owners", carol)

	var mu sync.Mutex
	var got []ports.Event
	sub, err := h.bus.SubscribeChat(context.Background(), chat.ID, func(e ports.Event) {
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	path := fmt.Sprintf("/api/v1/chats/%d/typing", chat.ID)
	h.must(204, "POST", path, owner.Token, map[string]any{"is_typing": true}, nil)
	h.must(204, "POST", path, owner.Token, map[string]any{"is_typing": true}, nil) // throttled
	h.must(204, "POST", path, owner.Token, map[string]any{"is_typing": false}, nil)
	porttest.Eventually(t, 10*time.Second, "a typing start and a stop", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 2
	})
	mu.Lock()
	if len(got) != 2 || got[0].Type != ports.EventTyping || !strings.Contains(string(got[0].Data), `"is_typing":true`) ||
		!strings.Contains(string(got[1].Data), `"is_typing":false`) {
		t.Fatalf("events %+v, want one start and one stop", got)
	}
	mu.Unlock()

	for _, tc := range []struct {
		path string
		body any
		want int
	}{
		{fmt.Sprintf("/api/v1/chats/%d/typing", other.ID), map[string]any{"is_typing": true}, 404},
		{"/api/v1/chats/999999/typing", map[string]any{"is_typing": true}, 404},
		{path, map[string]any{}, 400},
		{path, map[string]any{"is_typing": "yes"}, 400},
		{path, "not json", 400},
		{"/api/v1/chats/x/typing", map[string]any{"is_typing": true}, 400},
	} {
		if r := h.do("POST", tc.path, owner.Token, tc.body); r.status != tc.want {
			t.Errorf("POST %s %v = %d, want %d: %s", tc.path, tc.body, r.status, tc.want, r.raw)
		}
	}
}

// A REST write is activity; GETs and delivered are not.
func TestRESTWritesAreActivity(t *testing.T) {
	t.Parallel()
	h := newPresenceHarness(t)
	owner, members := h.team(1)
	bob := members[0]
	chat := h.createChat(owner, "group", "activity", bob)
	t0 := h.clock.Now()
	err := h.env.App.Commands.ConnectPresence.Handle(context.Background(), command.ConnectPresence{
		Actor: command.Actor{UserID: bob.ID, WorkspaceID: bob.WorkspaceID}, ConnID: "c", Platform: "web"})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(6 * time.Minute)
	if err := h.env.Presence.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(owner, bob, "away")

	h.must(200, "GET", fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID), bob.Token, nil, nil)
	if at := h.storedLastSeen(bob); !at.Equal(t0) {
		t.Fatalf("a GET moved last seen to %s", at)
	}
	sent := h.clock.Now()
	h.must(201, "POST", fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID), bob.Token, map[string]any{"content": "back"}, nil)
	h.publish()
	h.waitStatus(owner, bob, "online")
	if at := h.storedLastSeen(bob); !at.Equal(sent) {
		t.Fatalf("after a REST write last seen is %s, want %s", at, sent)
	}
	h.clock.Advance(time.Minute)
	h.must(200, "POST", fmt.Sprintf("/api/v1/chats/%d/delivered", chat.ID), bob.Token, map[string]any{"seq": 1}, nil)
	if at := h.storedLastSeen(bob); !at.Equal(sent) {
		t.Fatalf("delivered moved last seen to %s", at)
	}
	// A failed write is no activity either.
	h.do("POST", fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID), bob.Token, map[string]any{"content": ""})
	if at := h.storedLastSeen(bob); !at.Equal(sent) {
		t.Fatalf("a rejected write moved last seen to %s", at)
	}
}

func TestOpenAPIListsPresenceRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	h.must(200, "GET", "/openapi.json", "", nil, &doc)
	for p, m := range map[string]string{"/api/v1/presence": "get", "/api/v1/chats/{id}/typing": "post"} {
		if _, ok := doc.Paths[p][m]; !ok {
			t.Errorf("openapi.json lacks %s %s", m, p)
		}
	}
	r := h.do("GET", "/openapi.json", "", nil)
	for _, field := range []string{`"last_seen"`, `"is_typing"`, `"user_ids"`} {
		if !strings.Contains(string(r.raw), field) {
			t.Errorf("openapi.json does not mention %s", field)
		}
	}
}
