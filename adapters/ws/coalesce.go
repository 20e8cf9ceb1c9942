package ws

import (
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports"
)

// Receipt coalescing (README, "Receipts on the WebSocket"): receipt.updated
// events of a chat are held for ReceiptWindow and then sent as at most one
// frame per connection, carrying the latest pointers of every member that
// moved in the window. In a chat of more than LargeChat members a
// connection gets only the entries it needs: its own user's (the user's
// other devices), and those of members whose pointer passed a message its
// user sent (the sender's "seen by"). GET .../receipts stays exact.
const (
	ReceiptWindow = 250 * time.Millisecond
	LargeChat     = 50
	// sendersKept is how many recent seqs of a large chat remember their
	// sender, to find whose messages a moved pointer passed.
	sendersKept = 4096
	// firstLookBack is how many messages below a pointer count as passed
	// when this instance sees the member's pointer move for the first time.
	firstLookBack = 64
)

// receiptFrame is the data of a coalesced receipt.updated frame
// (api.ReceiptFrame): the API.md object of the last member that moved (so a
// client reading one object still gets a correct pointer) and every moved
// member's latest pointers in receipts, in the order they first moved in
// the window.
type receiptFrame = api.ReceiptFrame

// receipts is a chat room's receipt state, guarded by the hub's mutex.
type receipts struct {
	pending map[int64]command.ReceiptUpdatedEvent // latest per mover this window
	order   []int64                               // movers in order of first move
	armed   bool                                  // a flush is scheduled
	// Large chats only.
	senders map[int64]int64                       // seq -> sender, the last sendersKept seqs
	topSeq  int64                                 // highest seq in senders
	sent    map[int64]command.ReceiptUpdatedEvent // each member's pointers as last flushed
}

// afterFunc runs f once after d (time.AfterFunc; tests pass a fake clock).
type afterFunc func(d time.Duration, f func())

func realAfter(d time.Duration, f func()) { time.AfterFunc(d, f) }

func (r *room) receiptState() *receipts {
	if r.rc == nil {
		r.rc = &receipts{pending: make(map[int64]command.ReceiptUpdatedEvent)}
	}
	return r.rc
}

// queueReceiptLocked holds a receipt.updated of chat room r for the
// window's flush.
func (h *hub) queueReceiptLocked(r *room, ev command.ReceiptUpdatedEvent) {
	rc := r.receiptState()
	if _, ok := rc.pending[ev.UserID]; !ok {
		rc.order = append(rc.order, ev.UserID)
	}
	rc.pending[ev.UserID] = ev
	if !rc.armed {
		rc.armed = true
		h.after(h.receiptWindow, func() { h.flushReceipts(r) })
	}
}

// noteMessageLocked remembers the sender of a large chat's message.
func (h *hub) noteMessageLocked(r *room, seq, sender int64) {
	rc := r.receiptState()
	if rc.senders == nil {
		rc.senders = make(map[int64]int64)
	}
	rc.senders[seq] = sender
	if seq > rc.topSeq {
		rc.topSeq = seq
	}
	if len(rc.senders) > sendersKept {
		for s := range rc.senders {
			if s <= rc.topSeq-sendersKept {
				delete(rc.senders, s)
			}
		}
	}
}

// flushReceipts sends the window's receipts of chat room r.
func (h *hub) flushReceipts(r *room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rc := r.rc
	if rc == nil {
		return
	}
	rc.armed = false
	if r.dead || len(rc.order) == 0 {
		rc.pending, rc.order = make(map[int64]command.ReceiptUpdatedEvent), nil
		return
	}
	moved := make([]command.ReceiptUpdatedEvent, len(rc.order))
	for i, u := range rc.order {
		moved[i] = rc.pending[u]
	}
	clear(rc.pending)
	rc.order = rc.order[:0]

	if r.members <= LargeChat {
		if frame := h.receiptFrame(moved); frame != nil {
			h.deliverLocked(r, frame)
		}
		return
	}
	// Large chat: whose messages did each pointer pass?
	passed := make([]map[int64]bool, len(moved))
	if rc.sent == nil {
		rc.sent = make(map[int64]command.ReceiptUpdatedEvent)
	}
	for i, ev := range moved {
		prev, ok := rc.sent[ev.UserID]
		from := min(prev.LastDeliveredSeq, prev.LastReadSeq)
		to := max(ev.LastDeliveredSeq, ev.LastReadSeq)
		if !ok { // first move seen here: the last firstLookBack messages
			from = to - firstLookBack
		}
		from = max(from, to-sendersKept)
		passed[i] = make(map[int64]bool)
		for s := from + 1; s <= to; s++ {
			if sender, ok := rc.senders[s]; ok && sender != ev.UserID {
				passed[i][sender] = true
			}
		}
		rc.sent[ev.UserID] = ev
	}
	frames := make(map[int64][]byte) // per user; nil: nothing for them
	for c := range r.conns {
		u := c.actor.UserID
		frame, done := frames[u]
		if !done {
			var mine []command.ReceiptUpdatedEvent
			for i, ev := range moved {
				if ev.UserID == u || passed[i][u] {
					mine = append(mine, ev)
				}
			}
			if len(mine) > 0 {
				frame = h.receiptFrame(mine)
			}
			frames[u] = frame
		}
		if frame != nil {
			h.deliver(c, frame)
		}
	}
}

func (h *hub) receiptFrame(moved []command.ReceiptUpdatedEvent) []byte {
	b, err := encodeFrame(ports.EventReceiptUpdated, receiptFrame{ReceiptUpdate: moved[len(moved)-1], Receipts: moved})
	if err != nil {
		h.log.Error("websocket hub: receipt frame does not encode", zap.Error(err))
		return nil
	}
	return b
}

// setMembers records the member counts of chats from a chat list.
func (h *hub) setMembers(chats []query.ChatPosition) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range chats {
		if r := h.chats[s.ChatID]; r != nil {
			r.members = s.MemberCount
		}
	}
}

// memberCount reads member_count from a Chat object, if it has one.
func memberCount(data json.RawMessage) (int, bool) {
	var c struct {
		MemberCount *int `json:"member_count"`
	}
	if json.Unmarshal(data, &c) != nil || c.MemberCount == nil {
		return 0, false
	}
	return *c.MemberCount, true
}
