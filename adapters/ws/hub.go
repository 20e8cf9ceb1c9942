package ws

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// chatFrames are the chat-scoped event types sent to the chat's local
// connections with the event's data as it is (it already is the API.md
// object). receipt.updated goes to every member, the mover's own devices
// included (they keep their unread state in sync). Typing (ports.EventTyping,
// sent as typing.updated) skips the typist's connections: see presence.go.
var chatFrames = map[string]bool{
	ports.EventMessageCreated:    true,
	ports.EventMessageUpdated:    true,
	ports.EventMessageDeleted:    true,
	ports.EventChatCreated:       true,
	ports.EventChatUpdated:       true,
	ports.EventChatDeleted:       true,
	ports.EventChatMemberAdded:   true,
	ports.EventChatMemberRemoved: true,
	ports.EventReceiptUpdated:    true,
	command.EventReactionUpdated: true, // issue 14
	command.EventThreadUpdated:   true,
	command.EventUserUpdated:     true,
}

// room is the local connections of one chat, or of one user: an entry of
// the hub's routing index. A room lives while it has connections.
type room struct {
	user  bool // a user's room, else a chat's
	key   int64
	conns map[*conn]struct{}
	// viaUser are the connections a user-scoped copy of a join event
	// (chat.created, chat.member_added) brought into this chat room and
	// already showed the event to; the chat-scoped copy skips them.
	viaUser map[*conn]struct{}
	dead    bool // removed from the index: late events ignore it
	members int  // the chat's member count, as last heard (coalesce.go)
	rc      *receipts
	// changes counts the user-scoped membership events routed to a user's
	// room (chat.created, chat.member_added, chat.member_removed).
	changes uint64
}

// mark is where a connection's set-up started in the events that can
// change its chats: its user's membership events and every chat.deleted
// (chat-scoped only). Set-up lists the chats once more only if one came.
type mark struct{ user, deleted uint64 }

// hub routes bus events to local connections. The instance has one bus
// subscription (SubscribeAll, made with the first connection and kept
// until Close): its one delivery goroutine looks each event's chat or user
// up in the index below, so no connection or user costs a subscription, a
// goroutine or an id window. Everything about rooms and the rooms of each
// connection is guarded by mu; delivering a frame only appends to a
// connection's queue, so it is done under mu too, which keeps membership
// changes and deliveries in one order.
type hub struct {
	bus      ports.EventSubscriber
	log      *zap.Logger
	timeout  time.Duration // bounds the subscribe call
	observer Observer

	subMu sync.Mutex
	sub   ports.Subscription // the instance subscription, once made

	after         afterFunc // schedules receipt flushes
	receiptWindow time.Duration

	mu      sync.Mutex
	chats   map[int64]*room
	users   map[int64]*room
	deleted uint64 // chat.deleted events routed, whether a room had them or not
}

func newHub(bus ports.EventSubscriber, log *zap.Logger, timeout time.Duration, observer Observer) *hub {
	if observer == nil {
		observer = nopObserver{}
	}
	return &hub{bus: bus, log: log, timeout: timeout, observer: observer, after: realAfter, receiptWindow: ReceiptWindow,
		chats: make(map[int64]*room), users: make(map[int64]*room)}
}

// subscribe makes the instance subscription if it is not made yet: once it
// returns nil, every event published from then on reaches the index.
func (h *hub) subscribe(ctx context.Context) error {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	if h.sub != nil {
		return nil
	}
	// The subscription outlives the caller: its ctx only bounds the call.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.timeout)
	defer cancel()
	sub, err := h.bus.SubscribeAll(sctx, h.onEvent)
	if err != nil {
		return err
	}
	h.sub = sub
	return nil
}

// close ends the instance subscription.
func (h *hub) close() {
	h.subMu.Lock()
	sub := h.sub
	h.sub = nil
	h.subMu.Unlock()
	h.unsubscribe(sub)
}

// onEvent routes one event of the instance subscription.
func (h *hub) onEvent(e ports.Event) {
	h.mu.Lock()
	var r *room
	switch {
	case e.ChatID != 0:
		r = h.chats[e.ChatID]
		if e.Type == ports.EventChatDeleted {
			h.deleted++
		}
	case e.UserID != 0:
		r = h.users[e.UserID]
		if r != nil && (e.Type == ports.EventChatCreated || e.Type == ports.EventChatMemberAdded || e.Type == ports.EventChatMemberRemoved) {
			r.changes++
		}
	}
	h.mu.Unlock()
	if r == nil {
		return
	}
	if r.user {
		h.onUserEvent(r, e)
	} else {
		h.onChatEvent(r, e)
	}
}

// acquire subscribes the instance if needed; on success the caller, under
// mu, takes the room with roomLocked.
func (h *hub) acquire(ctx context.Context) error {
	if err := h.subscribe(ctx); err != nil {
		return errs.Wrap(errs.Unavailable, err, "subscribe to events")
	}
	return nil
}

// roomLocked returns the room of a chat or user, adding it to the index if
// it is new.
func (h *hub) roomLocked(user bool, key int64) *room {
	rooms := h.rooms(user)
	r := rooms[key]
	if r == nil {
		r = &room{user: user, key: key, conns: make(map[*conn]struct{})}
		if !user {
			r.viaUser = make(map[*conn]struct{})
		}
		rooms[key] = r
	}
	return r
}

func (h *hub) rooms(user bool) map[int64]*room {
	if user {
		return h.users
	}
	return h.chats
}

// teardownLocked drops a room that has no connections from the index.
func (h *hub) teardownLocked(r *room) {
	if r.dead || len(r.conns) > 0 {
		return
	}
	r.dead = true
	if rooms := h.rooms(r.user); rooms[r.key] == r {
		delete(rooms, r.key)
	}
}

func (h *hub) unsubscribe(subs ...ports.Subscription) {
	for _, s := range subs {
		if s == nil {
			continue
		}
		if err := s.Unsubscribe(); err != nil {
			h.log.Warn("websocket hub: unsubscribe failed", zap.Error(err))
		}
	}
}

// joinLocked puts c in chat room r; false if it was there already.
func (h *hub) joinLocked(r *room, c *conn) bool {
	if _, ok := r.conns[c]; ok {
		return false
	}
	r.conns[c] = struct{}{}
	c.chats[r.key] = r
	return true
}

// leaveLocked takes c out of chat room r.
func (h *hub) leaveLocked(r *room, c *conn) {
	if _, ok := r.conns[c]; !ok {
		return
	}
	delete(r.conns, c)
	delete(r.viaUser, c)
	delete(c.chats, r.key)
	h.teardownLocked(r)
}

// attachUser makes c one of its user's local connections, so that it hears
// the user-scoped events (new chats, being added or removed, a revoked
// session) from now on. The mark is for changedSince.
func (h *hub) attachUser(ctx context.Context, c *conn) (mark, error) {
	if err := h.acquire(ctx); err != nil {
		return mark{}, err
	}
	h.mu.Lock()
	u := h.roomLocked(true, c.actor.UserID)
	u.conns[c] = struct{}{}
	c.user = u
	m := mark{user: u.changes, deleted: h.deleted}
	h.mu.Unlock()
	return m, nil
}

// changedSince reports whether an event that may change c's chats was
// routed since m: if none was, a chat list read after m is still right
// for the chats c joined (an event routed from now on finds c in them).
func (h *hub) changedSince(c *conn, m mark) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return c.user == nil || c.user.changes != m.user || h.deleted != m.deleted
}

// joinChats puts c in chats: once it returns, c gets every event of those
// chats published from then on.
func (h *hub) joinChats(ctx context.Context, c *conn, chatIDs []int64) error {
	if err := h.acquire(ctx); err != nil {
		return err
	}
	h.mu.Lock()
	for _, id := range chatIDs {
		h.joinLocked(h.roomLocked(false, id), c)
	}
	h.mu.Unlock()
	return nil
}

// leaveChats takes c out of chats.
func (h *hub) leaveChats(c *conn, chatIDs []int64) {
	h.mu.Lock()
	for _, id := range chatIDs {
		if r := c.chats[id]; r != nil {
			h.leaveLocked(r, c)
		}
	}
	h.mu.Unlock()
}

// detach takes c out of every room; no event reaches it afterwards.
func (h *hub) detach(c *conn) {
	h.mu.Lock()
	for _, r := range c.chats {
		h.leaveLocked(r, c)
	}
	if u := c.user; u != nil {
		delete(u.conns, c)
		c.user = nil
		h.teardownLocked(u)
	}
	h.mu.Unlock()
}

// eventFrame encodes an event as the frame its clients get.
func (h *hub) eventFrame(e ports.Event) []byte {
	b, err := encodeFrame(e.Type, e.Data)
	if err != nil {
		h.log.Error("websocket hub: event data is not JSON; dropped",
			zap.String("event_id", e.ID), zap.String("type", e.Type), zap.Error(err))
		return nil
	}
	return b
}

// onChatEvent handles an event of chat room r. The instance subscription
// calls it from its one goroutine, in publish order, so each connection of
// the room gets the chat's events in seq order.
func (h *hub) onChatEvent(r *room, e ports.Event) {
	if e.Type == ports.EventTyping {
		h.onTyping(r, e) // presence.go
		return
	}
	if !chatFrames[e.Type] {
		return
	}
	frame := h.eventFrame(e)
	if frame == nil {
		return
	}
	var member command.MemberEvent
	if e.Type == ports.EventChatMemberAdded || e.Type == ports.EventChatMemberRemoved {
		if !h.decode(e, &member) {
			return
		}
	}
	var receipt command.ReceiptUpdatedEvent
	if e.Type == ports.EventReceiptUpdated && !h.decode(e, &receipt) {
		return
	}
	var updated struct {
		ID int64 `json:"id"`
	}
	if e.Type == command.EventUserUpdated && !h.decode(e, &updated) {
		return
	}
	count, hasCount := 0, false
	if e.Type == ports.EventChatCreated || e.Type == ports.EventChatUpdated {
		count, hasCount = memberCount(e.Data)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.dead {
		return
	}
	if hasCount {
		r.members = count
	}
	switch e.Type {
	case ports.EventReceiptUpdated:
		h.queueReceiptLocked(r, receipt) // coalesce.go
	case ports.EventMessageCreated:
		if r.members > LargeChat {
			var m struct {
				Seq      int64 `json:"seq"`
				SenderID int64 `json:"sender_id"`
			}
			if json.Unmarshal(e.Data, &m) == nil {
				h.noteMessageLocked(r, m.Seq, m.SenderID)
			}
		}
		h.deliverLocked(r, frame)
	case ports.EventChatMemberAdded:
		r.members++
		// The new member's local connections join the chat here, at this
		// point of its event stream, and see the event with everyone.
		var skip map[*conn]struct{}
		if u := h.users[member.UserID]; u != nil {
			for c := range u.conns {
				if h.joinLocked(r, c) {
					continue
				}
				if _, ok := r.viaUser[c]; ok {
					// The user-scoped copy got here first and showed it.
					delete(r.viaUser, c)
					if skip == nil {
						skip = make(map[*conn]struct{})
					}
					skip[c] = struct{}{}
				}
			}
		}
		for c := range r.conns {
			if _, ok := skip[c]; !ok {
				h.deliver(c, frame)
			}
		}
	case ports.EventChatMemberRemoved:
		r.members--
		// Everyone sees it, the removed member included; then the removed
		// member's connections hear nothing more of the chat.
		h.deliverLocked(r, frame)
		if u := h.users[member.UserID]; u != nil {
			for c := range u.conns {
				h.leaveLocked(r, c)
			}
		}
	case ports.EventChatCreated:
		// Connections that learnt of the chat from their user's copy have
		// seen it (normally the only copy: the chat was followed by nobody).
		for c := range r.conns {
			if _, ok := r.viaUser[c]; ok {
				delete(r.viaUser, c)
				continue
			}
			h.deliver(c, frame)
		}
	case ports.EventChatDeleted:
		h.deliverLocked(r, frame)
		for c := range r.conns {
			h.leaveLocked(r, c)
		}
	case command.EventUserUpdated:
		h.deliverUserUpdateLocked(r, updated.ID, frame)
	default:
		h.deliverLocked(r, frame)
	}
}

func (h *hub) deliverLocked(r *room, frame []byte) {
	n := 0
	for c := range r.conns {
		if c.send(frame) {
			n++
		}
	}
	h.observer.Delivered(n)
}

// deliverUserUpdateLocked delivers a user.updated frame to the room's
// connections that did not just get the same update through another chat:
// the update is recorded once per chat the user is in (so that it reaches
// every instance following any of them), and a connection in several of
// those chats must see it once. Copies of one update carry the same data;
// each connection remembers a hash of the last user.updated it got per
// user, so any later, different update of that user passes.
func (h *hub) deliverUserUpdateLocked(r *room, userID int64, frame []byte) {
	sum := fnv.New64a()
	_, _ = sum.Write(frame)
	key := sum.Sum64()
	n := 0
	for c := range r.conns {
		if c.userUpdates[userID] == key {
			continue
		}
		if c.userUpdates == nil {
			c.userUpdates = make(map[int64]uint64)
		}
		c.userUpdates[userID] = key
		if c.send(frame) {
			n++
		}
	}
	h.observer.Delivered(n)
}

// deliver queues an event frame on c and counts it.
func (h *hub) deliver(c *conn, frame []byte) {
	if c.send(frame) {
		h.observer.Delivered(1)
	}
}

// onUserEvent handles a user-scoped event of user room u: how this
// instance learns of a chat it does not follow yet, and of revoked
// sessions.
func (h *hub) onUserEvent(u *room, e ports.Event) {
	switch e.Type {
	case ports.EventChatCreated:
		var c struct {
			ID          int64 `json:"id"`
			MemberCount int   `json:"member_count"`
		}
		if h.decode(e, &c) {
			h.userJoined(u, c.ID, e)
			h.mu.Lock()
			if r := h.chats[c.ID]; r != nil && c.MemberCount > r.members {
				r.members = c.MemberCount
			}
			h.mu.Unlock()
		}
	case ports.EventChatMemberAdded:
		var m command.MemberEvent
		if h.decode(e, &m) && m.UserID == u.key {
			h.userJoined(u, m.ChatID, e)
		}
	case ports.EventChatMemberRemoved:
		var m command.MemberEvent
		if h.decode(e, &m) && m.UserID == u.key {
			h.userLeft(u, m.ChatID, e)
		}
	case ports.EventSessionRevoked:
		var s command.SessionRevokedEvent
		if !h.decode(e, &s) || s.SessionID == "" {
			return
		}
		h.mu.Lock()
		for c := range u.conns {
			if c.actor.SessionID == s.SessionID {
				c.kill(CloseSessionRevoked, "session revoked", false)
			}
		}
		h.mu.Unlock()
	}
}

// userJoined handles a user-scoped chat.created or chat.member_added: the
// user's connections that are not in the chat yet join it and see the
// event; those already in it got, or will get, the chat-scoped copy. The
// instance subscription already carries the chat's events, so nothing
// published after the join is missed.
func (h *hub) userJoined(u *room, chatID int64, e ports.Event) {
	if chatID <= 0 {
		return
	}
	var frame []byte
	h.mu.Lock()
	defer h.mu.Unlock()
	if u.dead {
		return
	}
	for c := range u.conns {
		if r := h.chats[chatID]; r != nil {
			if _, in := r.conns[c]; in {
				continue
			}
		}
		if frame == nil {
			if frame = h.eventFrame(e); frame == nil {
				return
			}
		}
		r := h.roomLocked(false, chatID)
		h.joinLocked(r, c)
		r.viaUser[c] = struct{}{}
		h.deliver(c, frame)
	}
}

// userLeft handles a user-scoped chat.member_removed: connections still in
// the chat see it and leave; the others already did with the chat-scoped
// copy.
func (h *hub) userLeft(u *room, chatID int64, e ports.Event) {
	var frame []byte
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.chats[chatID]
	if r == nil {
		return
	}
	for c := range u.conns {
		if _, in := r.conns[c]; !in {
			continue
		}
		if frame == nil {
			if frame = h.eventFrame(e); frame == nil {
				return
			}
		}
		h.deliver(c, frame)
		h.leaveLocked(r, c)
	}
}

func (h *hub) decode(e ports.Event, v any) bool {
	if err := json.Unmarshal(e.Data, v); err != nil {
		h.log.Error("websocket hub: undecodable event data; dropped",
			zap.String("event_id", e.ID), zap.String("type", e.Type), zap.Error(err))
		return false
	}
	return true
}

// stats counts the users and chats in the routing index.
func (h *hub) stats() (users, chats int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.users), len(h.chats)
}
