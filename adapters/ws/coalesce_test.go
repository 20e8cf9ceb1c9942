package ws

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports"
)

// fakeAfter is a clock whose scheduled functions run when the test says.
type fakeAfter struct {
	waits []time.Duration
	fns   []func()
}

func (f *fakeAfter) after(d time.Duration, fn func()) {
	f.waits = append(f.waits, d)
	f.fns = append(f.fns, fn)
}

// fire runs what is scheduled so far, as the window ending.
func (f *fakeAfter) fire() {
	fns := f.fns
	f.fns = nil
	for _, fn := range fns {
		fn()
	}
}

func receipt(chatID, userID, delivered, read int64) ports.Event {
	e := event(ports.EventReceiptUpdated, chatID, 0, command.ReceiptUpdatedEvent{ChatID: chatID, UserID: userID,
		LastDeliveredSeq: delivered, LastReadSeq: read})
	e.ID = "r" + itoa(userID) + "-" + itoa(delivered) + "-" + itoa(read)
	return e
}

func sent(chatID, seq, sender int64) ports.Event {
	e := event(ports.EventMessageCreated, chatID, 0, map[string]int64{"chat_id": chatID, "seq": seq, "sender_id": sender})
	e.ID = "m" + itoa(seq)
	return e
}

// receiptFrames returns the receipt.updated frames queued for c (as
// user:read pointers of their receipts list), dropping the other frames.
func receiptFrames(t *testing.T, c *conn) [][]string {
	t.Helper()
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	var out [][]string
	for _, b := range q {
		var f struct {
			Type string       `json:"type"`
			Data receiptFrame `json:"data"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		if f.Type != ports.EventReceiptUpdated {
			continue
		}
		var list []string
		for _, r := range f.Data.Receipts {
			list = append(list, itoa(r.UserID)+":"+itoa(r.LastDeliveredSeq)+"/"+itoa(r.LastReadSeq))
		}
		last := f.Data.Receipts[len(f.Data.Receipts)-1]
		if f.Data.ReceiptUpdate != last {
			t.Fatalf("top-level object %+v is not the last mover %+v", f.Data.ReceiptUpdate, last)
		}
		out = append(out, list)
	}
	return out
}

func expectReceipts(t *testing.T, c *conn, want ...[]string) {
	t.Helper()
	if got := receiptFrames(t, c); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("user %d got receipt frames %q, want %q", c.actor.UserID, got, want)
	}
}

func TestReceiptsCoalescePerChatPerWindow(t *testing.T) {
	f := newHubFixture(t)
	clock := &fakeAfter{}
	f.hub.after = clock.after
	a := f.connect(7, "s7", 2)
	b := f.connect(8, "s8", 2)
	b2 := f.connect(8, "s8b", 2)
	other := f.connect(9, "s9", 3)
	f.hub.setMembers(summaries(map[int64]int{2: 3, 3: 2}))

	// Nothing goes out before the window ends, however many moves.
	f.bus.chat(t, 2, receipt(2, 7, 1, 0))
	f.bus.chat(t, 2, receipt(2, 8, 3, 3))
	f.bus.chat(t, 2, receipt(2, 7, 3, 2))
	f.bus.chat(t, 2, receipt(2, 7, 3, 3))
	for _, c := range []*conn{a, b, b2, other} {
		expectReceipts(t, c)
	}
	if len(clock.waits) != 1 || clock.waits[0] != ReceiptWindow {
		t.Fatalf("flushes scheduled: %v, want one of %s", clock.waits, ReceiptWindow)
	}
	clock.fire()
	// One frame per connection, each mover's latest pointers, in order of
	// first move.
	for _, c := range []*conn{a, b, b2} {
		expectReceipts(t, c, []string{"7:3/3", "8:3/3"})
	}
	expectReceipts(t, other)
	// The next window starts empty.
	f.bus.chat(t, 2, receipt(2, 8, 4, 4))
	clock.fire()
	expectReceipts(t, a, []string{"8:4/4"})
	clock.fire()
	expectReceipts(t, a)
}

func TestReceiptsInLargeChatsGoWhereNeeded(t *testing.T) {
	f := newHubFixture(t)
	clock := &fakeAfter{}
	f.hub.after = clock.after
	author := f.connect(7, "s7", 2)
	reader := f.connect(8, "s8", 2)
	readerPhone := f.connect(8, "s8b", 2)
	bystander := f.connect(9, "s9", 2)
	f.hub.setMembers(summaries(map[int64]int{2: LargeChat + 1}))

	f.bus.chat(t, 2, sent(2, 1, 7))
	f.bus.chat(t, 2, sent(2, 2, 9))
	f.bus.chat(t, 2, sent(2, 3, 9))
	// The reader's first move seen here passes the last messages: the
	// author's and the bystander's.
	f.bus.chat(t, 2, receipt(2, 8, 3, 3))
	clock.fire()
	expectReceipts(t, author, []string{"8:3/3"})
	expectReceipts(t, bystander, []string{"8:3/3"})
	expectReceipts(t, reader, []string{"8:3/3"})
	expectReceipts(t, readerPhone, []string{"8:3/3"})

	f.bus.chat(t, 2, sent(2, 4, 7))
	f.bus.chat(t, 2, sent(2, 5, 9))
	f.bus.chat(t, 2, receipt(2, 9, 3, 3)) // the bystander's first move: passes the author's 1
	clock.fire()
	expectReceipts(t, author, []string{"9:3/3"})
	expectReceipts(t, bystander, []string{"9:3/3"})
	expectReceipts(t, reader)
	f.bus.chat(t, 2, receipt(2, 8, 5, 5)) // passes 4 (author) and 5 (bystander)
	f.bus.chat(t, 2, receipt(2, 9, 5, 5)) // passes the author's 4
	clock.fire()
	expectReceipts(t, author, []string{"8:5/5", "9:5/5"})
	expectReceipts(t, bystander, []string{"8:5/5", "9:5/5"})
	expectReceipts(t, reader, []string{"8:5/5"})
	expectReceipts(t, readerPhone, []string{"8:5/5"})

	// A chat that shrinks to LargeChat members is small again: everyone.
	f.bus.chat(t, 2, event(ports.EventChatMemberRemoved, 2, 0, member(2, 99)))
	for _, c := range []*conn{author, reader, readerPhone, bystander} {
		got(t, c)
	}
	f.bus.chat(t, 2, receipt(2, 8, 6, 6))
	clock.fire()
	expectReceipts(t, bystander, []string{"8:6/6"})
}

func summaries(counts map[int64]int) []query.ChatPosition {
	var out []query.ChatPosition
	for id, n := range counts {
		out = append(out, query.ChatPosition{ChatID: id, MemberCount: n})
	}
	return out
}
