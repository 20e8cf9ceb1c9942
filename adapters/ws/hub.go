package ws

import (
	"context"
	"encoding/json"
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
}

// room is the local connections of one chat, or of one user, and the bus
// subscription that feeds them. A room lives while it has connections or
// pins (joins waiting for its subscription); the last one out unsubscribes.
type room struct {
	user  bool // a user's room, else a chat's
	key   int64
	conns map[*conn]struct{}
	// viaUser are the connections a user-scoped copy of a join event
	// (chat.created, chat.member_added) brought into this chat room and
	// already showed the event to; the chat-scoped copy skips them.
	viaUser map[*conn]struct{}
	pins    int

	ready chan struct{} // closed once the subscription attempt finished
	sub   ports.Subscription
	err   error
	dead  bool // torn down: its handler ignores late events
}

// hub routes bus events to local connections. Everything about rooms and
// the rooms of each connection is guarded by mu; delivering a frame only
// appends to a connection's queue, so it is done under mu too, which keeps
// membership changes and deliveries in one order.
type hub struct {
	bus     ports.EventSubscriber
	log     *zap.Logger
	timeout time.Duration // bounds one subscribe call

	mu    sync.Mutex
	chats map[int64]*room
	users map[int64]*room
}

func newHub(bus ports.EventSubscriber, log *zap.Logger, timeout time.Duration) *hub {
	return &hub{bus: bus, log: log, timeout: timeout,
		chats: make(map[int64]*room), users: make(map[int64]*room)}
}

// acquire returns the live room of a chat or user, subscribing first if it
// is new, pinned so that it stays alive until the caller releases it (under
// mu, after adding connections). On error nothing is pinned.
func (h *hub) acquire(ctx context.Context, user bool, key int64) (*room, error) {
	rooms := h.rooms(user)
	h.mu.Lock()
	r := rooms[key]
	creator := r == nil
	if creator {
		r = &room{user: user, key: key, conns: make(map[*conn]struct{}), ready: make(chan struct{})}
		if !user {
			r.viaUser = make(map[*conn]struct{})
		}
		rooms[key] = r
	}
	r.pins++
	h.mu.Unlock()

	if creator {
		// The subscription outlives the caller: its ctx only bounds the call.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.timeout)
		var sub ports.Subscription
		var err error
		if user {
			sub, err = h.bus.SubscribeUser(sctx, key, func(e ports.Event) { h.onUserEvent(r, e) })
		} else {
			sub, err = h.bus.SubscribeChat(sctx, key, func(e ports.Event) { h.onChatEvent(r, e) })
		}
		cancel()
		h.mu.Lock()
		r.sub, r.err = sub, err
		if err != nil {
			r.dead = true
			if rooms[key] == r {
				delete(rooms, key)
			}
			r.pins--
		}
		close(r.ready)
		h.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	select {
	case <-r.ready:
	case <-ctx.Done():
		h.mu.Lock()
		sub := h.unpinLocked(r)
		h.mu.Unlock()
		h.unsubscribe(sub)
		return nil, errs.Wrap(errs.Unavailable, ctx.Err(), "subscribe to events")
	}
	if r.err != nil {
		h.mu.Lock()
		r.pins--
		h.mu.Unlock()
		return nil, r.err
	}
	return r, nil
}

func (h *hub) rooms(user bool) map[int64]*room {
	if user {
		return h.users
	}
	return h.chats
}

// unpinLocked releases a pin taken by acquire; it returns the subscription
// to end (outside mu) if the room is now empty.
func (h *hub) unpinLocked(r *room) ports.Subscription {
	r.pins--
	return h.teardownLocked(r)
}

// teardownLocked retires a room that has neither connections nor pins.
func (h *hub) teardownLocked(r *room) ports.Subscription {
	if r.dead || len(r.conns) > 0 || r.pins > 0 {
		return nil
	}
	r.dead = true
	if rooms := h.rooms(r.user); rooms[r.key] == r {
		delete(rooms, r.key)
	}
	return r.sub
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

// leaveLocked takes c out of chat room r, returning the subscription to
// end if c was the last local member.
func (h *hub) leaveLocked(r *room, c *conn) ports.Subscription {
	if _, ok := r.conns[c]; !ok {
		return nil
	}
	delete(r.conns, c)
	delete(r.viaUser, c)
	delete(c.chats, r.key)
	return h.teardownLocked(r)
}

// attachUser makes c one of its user's local connections, so that it hears
// the user-scoped events (new chats, being added or removed, a revoked
// session) from now on.
func (h *hub) attachUser(ctx context.Context, c *conn) error {
	u, err := h.acquire(ctx, true, c.actor.UserID)
	if err != nil {
		return err
	}
	h.mu.Lock()
	u.conns[c] = struct{}{}
	c.user = u
	sub := h.unpinLocked(u)
	h.mu.Unlock()
	h.unsubscribe(sub)
	return nil
}

// joinChats subscribes c to chats: once it returns, c gets every event of
// those chats published from then on.
func (h *hub) joinChats(ctx context.Context, c *conn, chatIDs []int64) error {
	for _, id := range chatIDs {
		r, err := h.acquire(ctx, false, id)
		if err != nil {
			return err
		}
		h.mu.Lock()
		h.joinLocked(r, c)
		sub := h.unpinLocked(r)
		h.mu.Unlock()
		h.unsubscribe(sub)
	}
	return nil
}

// leaveChats takes c out of chats.
func (h *hub) leaveChats(c *conn, chatIDs []int64) {
	var subs []ports.Subscription
	h.mu.Lock()
	for _, id := range chatIDs {
		if r := c.chats[id]; r != nil {
			subs = append(subs, h.leaveLocked(r, c))
		}
	}
	h.mu.Unlock()
	h.unsubscribe(subs...)
}

// detach takes c out of every room; no event reaches it afterwards.
func (h *hub) detach(c *conn) {
	var subs []ports.Subscription
	h.mu.Lock()
	for _, r := range c.chats {
		subs = append(subs, h.leaveLocked(r, c))
	}
	if u := c.user; u != nil {
		delete(u.conns, c)
		c.user = nil
		subs = append(subs, h.teardownLocked(u))
	}
	h.mu.Unlock()
	h.unsubscribe(subs...)
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

// onChatEvent handles an event of chat room r. The bus calls it from one
// goroutine per subscription, in publish order, so each connection of the
// room gets the chat's events in seq order.
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
	var subs []ports.Subscription
	h.mu.Lock()
	if r.dead {
		h.mu.Unlock()
		return
	}
	switch e.Type {
	case ports.EventChatMemberAdded:
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
				c.send(frame)
			}
		}
	case ports.EventChatMemberRemoved:
		// Everyone sees it, the removed member included; then the removed
		// member's connections hear nothing more of the chat.
		h.deliverLocked(r, frame)
		if u := h.users[member.UserID]; u != nil {
			for c := range u.conns {
				subs = append(subs, h.leaveLocked(r, c))
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
			c.send(frame)
		}
	case ports.EventChatDeleted:
		h.deliverLocked(r, frame)
		for c := range r.conns {
			subs = append(subs, h.leaveLocked(r, c))
		}
	default:
		h.deliverLocked(r, frame)
	}
	h.mu.Unlock()
	h.unsubscribe(subs...)
}

func (h *hub) deliverLocked(r *room, frame []byte) {
	for c := range r.conns {
		c.send(frame)
	}
}

// onUserEvent handles a user-scoped event of user room u: how this
// instance learns of a chat it does not follow yet, and of revoked
// sessions.
func (h *hub) onUserEvent(u *room, e ports.Event) {
	switch e.Type {
	case ports.EventChatCreated:
		var c struct {
			ID int64 `json:"id"`
		}
		if h.decode(e, &c) {
			h.userJoined(u, c.ID, e)
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
// user's connections that are not in the chat yet join it (subscribing
// first, so nothing published after they see the event is missed) and see
// the event; those already in it got, or will get, the chat-scoped copy.
//
// When no local connection followed the chat, its events published between
// the change and this subscription are not heard here: a client that learns
// of a chat this way loads it by seq (it has no history of it anyway), and
// a gap in seq later also tells it to catch up.
func (h *hub) userJoined(u *room, chatID int64, e ports.Event) {
	if chatID <= 0 {
		return
	}
	h.mu.Lock()
	need := false
	if !u.dead {
		r := h.chats[chatID]
		for c := range u.conns {
			if r == nil {
				need = true
				break
			}
			if _, in := r.conns[c]; !in {
				need = true
				break
			}
		}
	}
	h.mu.Unlock()
	if !need {
		return
	}
	frame := h.eventFrame(e)
	if frame == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	defer cancel()
	r, err := h.acquire(ctx, false, chatID)
	if err != nil {
		// Without the chat's events these connections would silently miss
		// messages: have them reconnect and catch up instead.
		h.log.Warn("websocket hub: cannot follow a new chat; closing its member's connections",
			zap.Int64("chat_id", chatID), zap.Int64("user_id", u.key), zap.Error(err))
		h.mu.Lock()
		for c := range u.conns {
			c.kill(CloseTryAgainLater, "event bus unavailable", false)
		}
		h.mu.Unlock()
		return
	}
	h.mu.Lock()
	for c := range u.conns {
		if h.joinLocked(r, c) {
			r.viaUser[c] = struct{}{}
			c.send(frame)
		}
	}
	sub := h.unpinLocked(r)
	h.mu.Unlock()
	h.unsubscribe(sub)
}

// userLeft handles a user-scoped chat.member_removed: connections still in
// the chat see it and leave; the others already did with the chat-scoped
// copy.
func (h *hub) userLeft(u *room, chatID int64, e ports.Event) {
	var frame []byte
	var subs []ports.Subscription
	h.mu.Lock()
	if r := h.chats[chatID]; r != nil {
		for c := range u.conns {
			if _, in := r.conns[c]; !in {
				continue
			}
			if frame == nil {
				if frame = h.eventFrame(e); frame == nil {
					break
				}
			}
			c.send(frame)
			subs = append(subs, h.leaveLocked(r, c))
		}
	}
	h.mu.Unlock()
	h.unsubscribe(subs...)
}

func (h *hub) decode(e ports.Event, v any) bool {
	if err := json.Unmarshal(e.Data, v); err != nil {
		h.log.Error("websocket hub: undecodable event data; dropped",
			zap.String("event_id", e.ID), zap.String("type", e.Type), zap.Error(err))
		return false
	}
	return true
}

// stats counts rooms with a live subscription.
func (h *hub) stats() (users, chats int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.users), len(h.chats)
}
