package ws_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/application/query"
)

func isReceipt(chatID, userID int64) func(frame) bool {
	return func(f frame) bool {
		if f.Type != "receipt.updated" {
			return false
		}
		var d api.ReceiptUpdate
		return json.Unmarshal(f.Data, &d) == nil && d.ChatID == chatID && d.UserID == userID
	}
}

// receiptsOf returns the data of every receipt.updated of userID in chatID
// received so far, in order.
func (c *client) receiptsOf(chatID, userID int64) []api.ReceiptUpdate {
	var out []api.ReceiptUpdate
	for _, f := range c.snapshot() {
		if isReceipt(chatID, userID)(f) {
			var d api.ReceiptUpdate
			f.decode(c.t, &d)
			out = append(out, d)
		}
	}
	return out
}

func TestReceiptFramesMovePointersAndFanOut(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	s := e.start(bus, serverOptions{})
	us := e.users(4)
	alice, bob, carol, eve := us[0], us[1], us[2], us[3]
	g := e.group(alice, bob, carol)
	e.group(alice, eve) // eve shares a chat with alice, not g
	ca := dial(t, s, alice, "alice", dialOptions{})
	cb := dial(t, s, bob, "bob", dialOptions{})
	cc := dial(t, s, carol, "carol", dialOptions{})
	ce := dial(t, s, eve, "eve", dialOptions{})
	for _, c := range []*client{ca, cb, cc, ce} {
		c.hello()
	}
	for i := 0; i < 3; i++ {
		e.send(alice, g.ID, "hello")
	}
	cc.waitFor("message 3", isCreated(g.ID, 3))

	// Bob reads 2: every member's connections hear it, bob's own included;
	// bob gets no answer frame.
	cb.write(map[string]any{"type": "read", "ref": "r1", "chat_id": g.ID, "seq": 2})
	want := api.ReceiptUpdate{ChatID: g.ID, UserID: bob.ID, LastDeliveredSeq: 2, LastReadSeq: 2}
	for _, c := range []*client{ca, cb, cc} {
		f := c.waitFor("bob's receipt", isReceipt(g.ID, bob.ID))
		var d api.ReceiptUpdate
		f.decode(t, &d)
		if d != want {
			t.Fatalf("%s got receipt.updated %+v; want %+v", c.name, d, want)
		}
	}
	cb.roundTrip()
	for _, f := range cb.snapshot() {
		if f.Type == "error" || f.Type == "ack" {
			t.Fatalf("bob got %s %s for a read", f.Type, f.Data)
		}
	}

	// No-op moves (back, or to where the pointer is) broadcast nothing.
	// Carol's delivered afterwards is a marker: a chat's events arrive in
	// order, so anything bob's no-ops had sent would come before it.
	cb.write(map[string]any{"type": "read", "chat_id": g.ID, "seq": 1})
	cb.write(map[string]any{"type": "delivered", "chat_id": g.ID, "seq": 2})
	cb.write(map[string]any{"type": "read", "chat_id": g.ID, "seq": 2})
	cb.roundTrip()
	cc.write(map[string]any{"type": "delivered", "chat_id": g.ID, "seq": 3})
	wantCarol := api.ReceiptUpdate{ChatID: g.ID, UserID: carol.ID, LastDeliveredSeq: 3, LastReadSeq: 0}
	for _, c := range []*client{ca, cb, cc} {
		c.waitFor("carol's receipt", isReceipt(g.ID, carol.ID))
		if got := c.receiptsOf(g.ID, bob.ID); len(got) != 1 {
			t.Fatalf("%s got %d receipt.updated of bob; want 1 (no-ops broadcast nothing): %+v", c.name, len(got), got)
		}
		if got := c.receiptsOf(g.ID, carol.ID); len(got) != 1 || got[0] != wantCarol {
			t.Fatalf("%s got carol's receipts %+v; want [%+v]", c.name, got, wantCarol)
		}
		// Alice's sends moved her own pointers without a receipt.updated.
		if got := c.receiptsOf(g.ID, alice.ID); len(got) != 0 {
			t.Fatalf("%s got receipt.updated of the sender: %+v", c.name, got)
		}
	}
	ce.roundTrip()
	ce.never(g.ID, "eve is not a member of g")

	// The pointers are where the frames put them.
	members, err := e.app.Queries.ListMembers.Handle(context.Background(), query.Viewer{UserID: alice.ID, WorkspaceID: alice.WorkspaceID}, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		want := map[int64][2]int64{alice.ID: {3, 3}, bob.ID: {2, 2}, carol.ID: {3, 0}}[m.UserID]
		if [2]int64{m.LastDeliveredSeq, m.LastReadSeq} != want {
			t.Fatalf("member %d pointers delivered %d read %d; want %v", m.UserID, m.LastDeliveredSeq, m.LastReadSeq, want)
		}
	}
}

func TestReceiptFramesRejectBadInputAndNonMembers(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	s := e.start(bus, serverOptions{})
	us := e.users(3)
	alice, bob, eve := us[0], us[1], us[2]
	g := e.group(alice, bob)
	other := e.group(eve, alice) // bob is not a member
	e.send(alice, g.ID, "one")
	e.send(alice, g.ID, "two")
	e.send(eve, other.ID, "elsewhere")
	ca := dial(t, s, alice, "alice", dialOptions{})
	cb := dial(t, s, bob, "bob", dialOptions{})
	ca.hello()
	cb.hello()

	chat, otherChat := itoa(g.ID), itoa(other.ID)
	for _, typ := range []string{"delivered", "read"} {
		for _, tc := range []struct {
			name  string
			frame string
			code  string
			ref   string
		}{
			{"seq beyond last_seq", `{"type":"` + typ + `","ref":"a","chat_id":` + chat + `,"seq":3}`, "invalid_argument", `"a"`},
			{"seq zero", `{"type":"` + typ + `","ref":"b","chat_id":` + chat + `,"seq":0}`, "invalid_argument", `"b"`},
			{"seq negative", `{"type":"` + typ + `","ref":7,"chat_id":` + chat + `,"seq":-1}`, "invalid_argument", `7`},
			{"seq a string", `{"type":"` + typ + `","ref":"c","chat_id":` + chat + `,"seq":"1"}`, "invalid_argument", `"c"`},
			{"seq a fraction", `{"type":"` + typ + `","ref":"d","chat_id":` + chat + `,"seq":1.5}`, "invalid_argument", `"d"`},
			{"seq missing", `{"type":"` + typ + `","ref":"e","chat_id":` + chat + `}`, "invalid_argument", `"e"`},
			{"chat_id missing", `{"type":"` + typ + `","ref":"f","seq":1}`, "invalid_argument", `"f"`},
			{"no ref", `{"type":"` + typ + `","chat_id":` + chat + `,"seq":9}`, "invalid_argument", ``},
			{"chat of others", `{"type":"` + typ + `","ref":"g","chat_id":` + otherChat + `,"seq":1}`, "not_found", `"g"`},
			{"unknown chat", `{"type":"` + typ + `","ref":"h","chat_id":999999,"seq":1}`, "not_found", `"h"`},
		} {
			n := cb.count(isType("error"))
			cb.write(json.RawMessage(tc.frame))
			cb.waitCount(typ+" "+tc.name, isType("error"), n+1)
			var errs []frame
			for _, f := range cb.snapshot() {
				if f.Type == "error" {
					errs = append(errs, f)
				}
			}
			var d errorData
			errs[n].decode(t, &d)
			if d.Code != tc.code || d.Message == "" || string(d.Ref) != tc.ref {
				t.Errorf("%s %s: error %+v (ref %s), want code %s ref %s", typ, tc.name, d, d.Ref, tc.code, tc.ref)
			}
		}
	}
	// Nothing moved and nothing was broadcast: a valid read afterwards is
	// the first receipt.updated alice hears, from 0.
	cb.write(map[string]any{"type": "read", "chat_id": g.ID, "seq": 1})
	ca.waitFor("bob's receipt", isReceipt(g.ID, bob.ID))
	if got := ca.receiptsOf(g.ID, bob.ID); len(got) != 1 || got[0] != (api.ReceiptUpdate{ChatID: g.ID, UserID: bob.ID, LastDeliveredSeq: 1, LastReadSeq: 1}) {
		t.Fatalf("alice got bob's receipts %+v; want one at 1/1", got)
	}
	if got := ca.receiptsOf(other.ID, bob.ID); len(got) != 0 {
		t.Fatalf("a refused frame moved bob in a chat of others: %+v", got)
	}
	rs, err := e.app.Queries.GetReceipts.Handle(context.Background(), query.Viewer{UserID: eve.ID, WorkspaceID: eve.WorkspaceID}, other.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.UserID == bob.ID {
			t.Fatalf("bob has a receipt in a chat he is not in: %+v", r)
		}
	}
}
