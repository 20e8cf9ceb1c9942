package http_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/fechatter/fechatter/adapters/memory/memapp"
)

func TestSendPageEditDelete(t *testing.T) {
	h := newHarness(t)
	owner, ms := h.team(1)
	bob := ms[0]
	c := h.createChat(owner, "group", "g", bob)
	for i := 1; i <= 7; i++ {
		m := h.send(owner, c.ID, fmt.Sprintf("m%d", i))
		if m.Seq != int64(i) || m.ChatID != c.ID || m.SenderID != owner.ID {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
	// Newest first, then back.
	page, more := h.messages(bob, c.ID, "?limit=3")
	if len(page) != 3 || page[0].Seq != 7 || page[2].Seq != 5 || !more {
		t.Fatalf("first page %+v more=%v", page, more)
	}
	page, more = h.messages(bob, c.ID, "?before_seq=5&limit=3")
	if len(page) != 3 || page[0].Seq != 4 || page[2].Seq != 2 || !more {
		t.Fatalf("second page %+v more=%v", page, more)
	}
	page, more = h.messages(bob, c.ID, "?before_seq=2&limit=3")
	if len(page) != 1 || page[0].Seq != 1 || more {
		t.Fatalf("last page %+v more=%v", page, more)
	}
	// Oldest first from a seq: catch-up.
	page, more = h.messages(bob, c.ID, "?after_seq=4&limit=2")
	if len(page) != 2 || page[0].Seq != 5 || page[1].Seq != 6 || !more {
		t.Fatalf("after page %+v more=%v", page, more)
	}
	page, more = h.messages(bob, c.ID, "?after_seq=6")
	if len(page) != 1 || page[0].Seq != 7 || more {
		t.Fatalf("after page end %+v more=%v", page, more)
	}

	// Reply within the chat.
	var reply msgJSON
	h.must(201, "POST", fmt.Sprintf("/api/v1/chats/%d/messages", c.ID), bob.Token, map[string]any{"content": "re", "reply_to_id": page[0].ID}, &reply)
	if reply.ReplyToID == nil || *reply.ReplyToID != page[0].ID {
		t.Errorf("reply %+v", reply)
	}

	// Edit: sender only.
	mp := fmt.Sprintf("/api/v1/chats/%d/messages/3", c.ID)
	h.must(403, "PATCH", mp, bob.Token, map[string]any{"content": "hijack"}, nil)
	var edited msgJSON
	h.must(200, "PATCH", mp, owner.Token, map[string]any{"content": "m3 fixed"}, &edited)
	if edited.Content != "m3 fixed" || edited.EditedAt == nil || edited.Seq != 3 {
		t.Errorf("edited %+v", edited)
	}
	// Delete: bob may not delete owner's message; the owner may delete bob's.
	h.must(403, "DELETE", mp, bob.Token, nil, nil)
	h.must(204, "DELETE", mp, owner.Token, nil, nil)
	var tomb msgJSON
	h.must(200, "GET", mp, bob.Token, nil, &tomb)
	if tomb.Content != "" || tomb.DeletedAt == nil || tomb.Seq != 3 {
		t.Errorf("tombstone %+v", tomb)
	}
	h.must(409, "PATCH", mp, owner.Token, map[string]any{"content": "back"}, nil)
	h.must(204, "DELETE", fmt.Sprintf("/api/v1/chats/%d/messages/%d", c.ID, reply.Seq), owner.Token, nil, nil)
	h.must(404, "GET", fmt.Sprintf("/api/v1/chats/%d/messages/99", c.ID), bob.Token, nil, nil)
}

func TestIdempotentSends(t *testing.T) {
	h := newHarness(t)
	owner, ms := h.team(1)
	c := h.createChat(owner, "group", "g", ms[0])
	path := fmt.Sprintf("/api/v1/chats/%d/messages", c.ID)
	body := map[string]any{"content": "once", "idempotency_key": "k-1"}

	var first msgJSON
	h.must(201, "POST", path, owner.Token, body, &first)
	var again msgJSON
	r := h.must(200, "POST", path, owner.Token, body, &again)
	if r.header.Get("Idempotent-Replay") != "true" || again.ID != first.ID || again.Seq != first.Seq {
		t.Fatalf("replay %+v header %q, first %+v", again, r.header.Get("Idempotent-Replay"), first)
	}
	h.must(409, "POST", path, owner.Token, map[string]any{"content": "other", "idempotency_key": "k-1"}, nil)
	// Another sender may use the same key.
	h.must(201, "POST", path, ms[0].Token, body, nil)

	// Many concurrent repeats: one message, everyone gets it.
	body = map[string]any{"content": "race", "idempotency_key": "k-race"}
	const n = 24
	ids := make([]int64, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := h.do("POST", path, owner.Token, body)
			var m msgJSON
			r.json(t, &m)
			ids[i], statuses[i] = m.ID, r.status
		}(i)
	}
	wg.Wait()
	created := 0
	for i := range ids {
		if ids[i] != ids[0] || ids[i] == 0 {
			t.Fatalf("concurrent repeats got different messages: %v", ids)
		}
		if statuses[i] == 201 {
			created++
		} else if statuses[i] != 200 {
			t.Fatalf("status %d", statuses[i])
		}
	}
	if created != 1 {
		t.Errorf("%d answers said created, want 1", created)
	}
	all, _ := h.messages(owner, c.ID, "?limit=200")
	if len(all) != 3 {
		t.Errorf("chat holds %d messages, want 3", len(all))
	}
}

func TestSendIsRateLimitedPerUser(t *testing.T) {
	h := newHarness(t, func(o *memapp.Options) { o.SendBurst = 3 })
	owner, ms := h.team(1)
	c := h.createChat(owner, "group", "g", ms[0])
	for i := 0; i < 3; i++ {
		h.send(owner, c.ID, "x")
	}
	r := h.must(429, "POST", fmt.Sprintf("/api/v1/chats/%d/messages", c.ID), owner.Token, map[string]any{"content": "y"}, nil)
	if r.header.Get("Retry-After") == "" || r.errCode(t) != "rate_limited" {
		t.Errorf("429 answer: %v %s", r.header, r.raw)
	}
	h.send(ms[0], c.ID, "bob is not limited by owner's sends")
	all, _ := h.messages(owner, c.ID, "")
	if len(all) != 4 {
		t.Errorf("%d messages stored, want 4", len(all))
	}
}

func TestMessageContentRules(t *testing.T) {
	h := newHarness(t)
	owner, ms := h.team(1)
	c := h.createChat(owner, "group", "g", ms[0])
	other := h.createChat(owner, "group", "other", ms[0])
	foreign := h.send(owner, other.ID, "elsewhere")
	path := fmt.Sprintf("/api/v1/chats/%d/messages", c.ID)
	cases := map[string]any{
		"blank":             map[string]any{"content": "   \n\t"},
		"empty":             map[string]any{"content": ""},
		"4001 characters":   map[string]any{"content": strings.Repeat("é", 4001)},
		"missing content":   map[string]any{},
		"content a number":  map[string]any{"content": 5},
		"reply_to a string": map[string]any{"content": "x", "reply_to_id": "1"},
		"reply elsewhere":   map[string]any{"content": "x", "reply_to_id": foreign.ID},
		"reply to nothing":  map[string]any{"content": "x", "reply_to_id": 999999},
		"key too long":      map[string]any{"content": "x", "idempotency_key": strings.Repeat("k", 65)},
		"key empty":         map[string]any{"content": "x", "idempotency_key": ""},
		"invalid UTF-8":     "{\"content\": \"\xff\xfe\"}",
		"not JSON":          "content=hi",
		"JSON array":        "[]",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			if code := h.must(400, "POST", path, owner.Token, body, nil).errCode(t); code != "invalid_argument" {
				t.Errorf("code %q", code)
			}
		})
	}
	h.must(201, "POST", path, owner.Token, map[string]any{"content": strings.Repeat("é", 4000)}, nil)
	all, _ := h.messages(owner, c.ID, "")
	if len(all) != 1 {
		t.Errorf("bad sends stored messages: %d in chat", len(all))
	}
	for _, q := range []string{"?limit=0", "?limit=201", "?limit=x", "?before_seq=0", "?after_seq=-1", "?before_seq=3&after_seq=1"} {
		if r := h.do("GET", path+q, owner.Token, nil); r.status != 400 {
			t.Errorf("GET messages%s = %d, want 400", q, r.status)
		}
	}
}
