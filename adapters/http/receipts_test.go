package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/api"
)

// receiptEvents returns the receipt.updated events waiting in the outbox
// (no relay runs in this harness, so they stay there).
func (h *harness) receiptEvents() []api.ReceiptUpdate {
	h.t.Helper()
	pending, err := h.env.Store.Outbox().Pending(context.Background(), 1<<20)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []api.ReceiptUpdate
	for _, e := range pending {
		if e.Event.Type != "receipt.updated" {
			continue
		}
		var d api.ReceiptUpdate
		if err := json.Unmarshal(e.Event.Data, &d); err != nil {
			h.t.Fatalf("receipt.updated data %s: %v", e.Event.Data, err)
		}
		if e.Event.ChatID != d.ChatID {
			h.t.Fatalf("receipt.updated on chat %d's subject carries chat %d", e.Event.ChatID, d.ChatID)
		}
		out = append(out, d)
	}
	return out
}

func (h *harness) mark(want int, kind string, by user, chatID int64, body any) api.Member {
	h.t.Helper()
	var m api.Member
	var out any
	if want == 200 {
		out = &m
	}
	h.must(want, "POST", fmt.Sprintf("/api/v1/chats/%d/%s", chatID, kind), by.Token, body, out)
	return m
}

func (h *harness) receipts(by user, chatID, seq int64) []api.Receipt {
	h.t.Helper()
	var rs struct {
		Receipts []api.Receipt `json:"receipts"`
	}
	r := h.must(200, "GET", fmt.Sprintf("/api/v1/chats/%d/messages/%d/receipts", chatID, seq), by.Token, nil, &rs)
	if rs.Receipts == nil {
		h.t.Fatalf("receipts is not a list: %s", r.raw)
	}
	return rs.Receipts
}

func (h *harness) summary(by user, chatID int64) chatJSON {
	h.t.Helper()
	var list struct{ Chats []chatJSON }
	h.must(200, "GET", "/api/v1/chats", by.Token, nil, &list)
	for _, c := range list.Chats {
		if c.ID == chatID {
			var one chatJSON
			h.must(200, "GET", fmt.Sprintf("/api/v1/chats/%d", chatID), by.Token, nil, &one)
			if one.UnreadCount != c.UnreadCount || one.LastReadSeq != c.LastReadSeq {
				h.t.Fatalf("GET /chats says unread %d read %d; GET /chats/%d says %d %d",
					c.UnreadCount, c.LastReadSeq, chatID, one.UnreadCount, one.LastReadSeq)
			}
			return c
		}
	}
	h.t.Fatalf("chat %d not in the list", chatID)
	return chatJSON{}
}

func sameInstant(a *time.Time, b time.Time) bool { return a != nil && a.Equal(b) }

func TestReadAndDeliveredReceipts(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 19, 33, 47, 123456000, time.UTC)
	clock := memory.NewFakeClock(t0)
	h := newHarness(t, func(o *memapp.Options) { o.Clock = clock })
	owner, ms := h.team(2)
	bob, carol := ms[0], ms[1]
	c := h.createChat(owner, "group", "g", bob, carol)
	for i := 1; i <= 12; i++ {
		h.send(owner, c.ID, fmt.Sprintf("m%d", i))
	}
	if s := h.summary(bob, c.ID); s.UnreadCount != 12 || s.LastReadSeq != 0 {
		t.Fatalf("bob before reading: unread %d read %d; want 12, 0", s.UnreadCount, s.LastReadSeq)
	}

	// Bob reads up to 10: read_at on 1..10, null on 11 and 12.
	clock.Advance(time.Minute)
	readAt := clock.Now()
	m := h.mark(200, "read", bob, c.ID, map[string]any{"seq": 10})
	if m.UserID != bob.ID || m.Role != "member" || m.LastReadSeq != 10 || m.LastDeliveredSeq != 10 {
		t.Fatalf("read answer %+v; want bob's Member with both pointers at 10", m)
	}
	for seq := int64(1); seq <= 12; seq++ {
		rs := h.receipts(carol, c.ID, seq)
		if len(rs) != 2 || rs[0].UserID != bob.ID || rs[1].UserID != carol.ID {
			t.Fatalf("receipts of %d: %+v; want bob and carol (not the sender)", seq, rs)
		}
		b := rs[0]
		if seq <= 10 && (!sameInstant(b.ReadAt, readAt) || !sameInstant(b.DeliveredAt, readAt)) {
			t.Fatalf("receipts of %d: bob %+v; want delivered and read at %v", seq, b, readAt)
		}
		if seq > 10 && (b.ReadAt != nil || b.DeliveredAt != nil) {
			t.Fatalf("receipts of %d: bob %+v; want nulls", seq, b)
		}
		if rs[1].ReadAt != nil || rs[1].DeliveredAt != nil {
			t.Fatalf("receipts of %d: carol %+v; want nulls", seq, rs[1])
		}
	}
	if s := h.summary(bob, c.ID); s.UnreadCount != 2 || s.LastReadSeq != 10 {
		t.Fatalf("bob after reading 10: unread %d read %d; want 2, 10", s.UnreadCount, s.LastReadSeq)
	}
	if evs := h.receiptEvents(); len(evs) != 1 || evs[0] != (api.ReceiptUpdate{ChatID: c.ID, UserID: bob.ID, LastDeliveredSeq: 10, LastReadSeq: 10}) {
		t.Fatalf("events after the read: %+v; want one receipt.updated for bob at 10/10", evs)
	}

	// Moving back (or staying) is ignored: 200, the same pointers, no event.
	clock.Advance(time.Minute)
	for _, kind := range []string{"read", "delivered"} {
		for _, seq := range []int{5, 10} {
			if m := h.mark(200, kind, bob, c.ID, map[string]any{"seq": seq}); m.LastReadSeq != 10 || m.LastDeliveredSeq != 10 {
				t.Fatalf("%s %d answered %+v; want the pointers unchanged at 10", kind, seq, m)
			}
		}
	}
	if n := len(h.receiptEvents()); n != 1 {
		t.Fatalf("%d receipt.updated events after ignored moves; want still 1", n)
	}
	if rs := h.receipts(owner, c.ID, 3); !sameInstant(rs[0].ReadAt, readAt) {
		t.Fatalf("read_at of 3 moved to %v after a move back; want %v", rs[0].ReadAt, readAt)
	}

	// Delivered alone leaves read; read later moves delivered with it when
	// behind, at the same instant, so delivered is never later than read.
	clock.Advance(time.Minute)
	deliveredAt := clock.Now()
	if m := h.mark(200, "delivered", carol, c.ID, map[string]any{"seq": 4}); m.LastDeliveredSeq != 4 || m.LastReadSeq != 0 {
		t.Fatalf("delivered answered %+v; want delivered 4 read 0", m)
	}
	clock.Advance(time.Minute)
	carolRead := clock.Now()
	if m := h.mark(200, "read", carol, c.ID, map[string]any{"seq": 7}); m.LastDeliveredSeq != 7 || m.LastReadSeq != 7 {
		t.Fatalf("read answered %+v; want both at 7", m)
	}
	for seq := int64(1); seq <= 12; seq++ {
		cr := h.receipts(bob, c.ID, seq)[1]
		switch {
		case seq <= 4 && (!sameInstant(cr.DeliveredAt, deliveredAt) || !sameInstant(cr.ReadAt, carolRead)):
			t.Fatalf("carol on %d: %+v; want delivered %v read %v", seq, cr, deliveredAt, carolRead)
		case seq > 4 && seq <= 7 && (!sameInstant(cr.DeliveredAt, carolRead) || !sameInstant(cr.ReadAt, carolRead)):
			t.Fatalf("carol on %d: %+v; want delivered and read at %v", seq, cr, carolRead)
		case seq > 7 && (cr.DeliveredAt != nil || cr.ReadAt != nil):
			t.Fatalf("carol on %d: %+v; want nulls", seq, cr)
		}
		if cr.DeliveredAt != nil && (cr.ReadAt != nil && cr.DeliveredAt.After(*cr.ReadAt)) {
			t.Fatalf("carol on %d delivered after read: %+v", seq, cr)
		}
	}
	want := []api.ReceiptUpdate{
		{ChatID: c.ID, UserID: bob.ID, LastDeliveredSeq: 10, LastReadSeq: 10},
		{ChatID: c.ID, UserID: carol.ID, LastDeliveredSeq: 4, LastReadSeq: 0},
		{ChatID: c.ID, UserID: carol.ID, LastDeliveredSeq: 7, LastReadSeq: 7},
	}
	if evs := h.receiptEvents(); fmt.Sprint(evs) != fmt.Sprint(want) {
		t.Fatalf("events %+v; want %+v", evs, want)
	}
	if s := h.summary(carol, c.ID); s.UnreadCount != 5 {
		t.Fatalf("carol's unread %d; want 5", s.UnreadCount)
	}

	// Bob answers: his own send reads everything before it, with no
	// receipt.updated; the owner's message 13 lists the owner, not bob.
	clock.Advance(time.Minute)
	sentAt := clock.Now()
	h.send(bob, c.ID, "thanks")
	if rs := h.receipts(carol, c.ID, 12); !sameInstant(rs[0].ReadAt, sentAt) {
		t.Fatalf("bob on 12 after sending 13: %+v; want read at %v", rs[0], sentAt)
	}
	if rs := h.receipts(carol, c.ID, 13); len(rs) != 2 || rs[0].UserID != owner.ID || rs[1].UserID != carol.ID {
		t.Fatalf("receipts of bob's message: %+v; want the owner and carol", rs)
	}
	if n := len(h.receiptEvents()); n != 3 {
		t.Fatalf("%d receipt.updated events after a send; want still 3", n)
	}
	if s := h.summary(bob, c.ID); s.UnreadCount != 0 {
		t.Fatalf("bob's unread after sending %d; want 0", s.UnreadCount)
	}
	// Reading to the end clears the unread count.
	h.mark(200, "read", carol, c.ID, map[string]any{"seq": 13})
	if s := h.summary(carol, c.ID); s.UnreadCount != 0 || s.LastReadSeq != 13 {
		t.Fatalf("carol after reading all: unread %d read %d; want 0, 13", s.UnreadCount, s.LastReadSeq)
	}
}

func TestReceiptsRejectBadInputAndNonMembers(t *testing.T) {
	h := newHarness(t)
	owner, ms := h.team(2)
	bob, eve := ms[0], ms[1]
	c := h.createChat(owner, "group", "g", bob)
	channel := h.createChat(owner, "public_channel", "town square")
	for i := 0; i < 3; i++ {
		h.send(owner, c.ID, "hello")
		h.send(owner, channel.ID, "hello")
	}
	h.mark(200, "read", bob, c.ID, map[string]any{"seq": 1})
	stranger, _ := h.team(0) // another workspace
	chat := fmt.Sprintf("/api/v1/chats/%d", c.ID)

	snapshot := func() string {
		b := string(h.must(200, "GET", chat+"/members", owner.Token, nil, nil).raw)
		for seq := 1; seq <= 3; seq++ {
			b += string(h.must(200, "GET", fmt.Sprintf("%s/messages/%d/receipts", chat, seq), owner.Token, nil, nil).raw)
		}
		b += string(h.must(200, "GET", fmt.Sprintf("/api/v1/chats/%d/members", channel.ID), owner.Token, nil, nil).raw)
		return b
	}
	before := snapshot()
	events := len(h.receiptEvents())

	for _, kind := range []string{"delivered", "read"} {
		path := chat + "/" + kind
		for _, tc := range []struct {
			name   string
			path   string
			by     user
			body   any
			status int
		}{
			{"no seq", path, bob, map[string]any{}, 400},
			{"seq null", path, bob, `{"seq":null}`, 400},
			{"seq zero", path, bob, map[string]any{"seq": 0}, 400},
			{"seq negative", path, bob, map[string]any{"seq": -2}, 400},
			{"seq a fraction", path, bob, `{"seq":1.5}`, 400},
			{"seq a string", path, bob, `{"seq":"2"}`, 400},
			{"seq too large for int64", path, bob, `{"seq":9223372036854775808}`, 400},
			{"seq beyond last_seq", path, bob, map[string]any{"seq": 4}, 400},
			{"body an array", path, bob, `[2]`, 400},
			{"body not JSON", path, bob, `seq=2`, 400},
			{"no body", path, bob, nil, 400},
			{"chat id not a number", "/api/v1/chats/abc/" + kind, bob, map[string]any{"seq": 2}, 400},
			{"non-member of the workspace", path, eve, map[string]any{"seq": 2}, 404},
			{"user of another workspace", path, stranger, map[string]any{"seq": 2}, 404},
			{"previewer of a public channel (API.md: writes need membership)", fmt.Sprintf("/api/v1/chats/%d/%s", channel.ID, kind), eve, map[string]any{"seq": 2}, 403},
			{"unknown chat", "/api/v1/chats/999999/" + kind, bob, map[string]any{"seq": 2}, 404},
			{"chat id zero", "/api/v1/chats/0/" + kind, bob, map[string]any{"seq": 2}, 404},
			{"no token", path, user{}, map[string]any{"seq": 2}, 401},
		} {
			r := h.do("POST", tc.path, tc.by.Token, tc.body)
			if r.status != tc.status {
				t.Errorf("%s %s: status %d, want %d: %s", kind, tc.name, r.status, tc.status, r.raw)
				continue
			}
			code := map[int]string{400: "invalid_argument", 401: "unauthenticated", 403: "forbidden", 404: "not_found"}[tc.status]
			if got := r.errCode(t); got != code {
				t.Errorf("%s %s: code %q, want %q", kind, tc.name, got, code)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		path   string
		by     user
		status int
	}{
		{"non-member", chat + "/messages/1/receipts", eve, 404},
		{"user of another workspace", chat + "/messages/1/receipts", stranger, 404},
		{"non-member of a public channel", fmt.Sprintf("/api/v1/chats/%d/messages/1/receipts", channel.ID), eve, 404},
		{"no such message", chat + "/messages/4/receipts", bob, 404},
		{"seq zero", chat + "/messages/0/receipts", bob, 404},
		{"seq not a number", chat + "/messages/x/receipts", bob, 400},
		{"unknown chat", "/api/v1/chats/999999/messages/1/receipts", bob, 404},
	} {
		if r := h.do("GET", tc.path, tc.by.Token, nil); r.status != tc.status {
			t.Errorf("receipts %s: status %d, want %d: %s", tc.name, r.status, tc.status, r.raw)
		}
	}
	if after := snapshot(); after != before {
		t.Errorf("rejected requests changed pointers or receipts:\nbefore %s\nafter  %s", before, after)
	}
	if n := len(h.receiptEvents()); n != events {
		t.Errorf("rejected requests added %d receipt.updated events", n-events)
	}
}

func TestOpenAPIListsReceiptRoutes(t *testing.T) {
	h := newHarness(t)
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody any            `json:"requestBody"`
			Responses   map[string]any `json:"responses"`
		} `json:"paths"`
	}
	h.must(200, "GET", "/openapi.json", "", nil, &doc)
	for _, p := range []struct{ path, method string }{
		{"/api/v1/chats/{id}/delivered", "post"},
		{"/api/v1/chats/{id}/read", "post"},
		{"/api/v1/chats/{id}/messages/{seq}/receipts", "get"},
	} {
		op, ok := doc.Paths[p.path][p.method]
		if !ok {
			t.Errorf("openapi.json lacks %s %s", p.method, p.path)
			continue
		}
		if _, ok := op.Responses["200"]; !ok {
			t.Errorf("%s %s has no 200 response", p.method, p.path)
		}
		if (p.method == "post") != (op.RequestBody != nil) {
			t.Errorf("%s %s request body %v", p.method, p.path, op.RequestBody)
		}
	}
}
