package ws

import (
	"context"
	"encoding/json"
	"strconv"

	"go.uber.org/zap"

	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/application/command"
	appevent "github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports"
)

var _ appevent.PresenceNotifier = (*Gateway)(nil)

// presenceConnected tells the application a connection opened (which is
// activity). Presence is best effort: a failure is logged and the
// connection goes on; the presence sweep retries what the store missed.
func (c *conn) presenceConnected() {
	c.presence = strconv.FormatUint(c.g.connIDs.Add(1), 10)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.g.ctx), c.g.opts.CommandTimeout)
	defer cancel()
	err := c.g.app.Commands.ConnectPresence.Handle(ctx, command.ConnectPresence{Actor: c.actor, ConnID: c.presence, Platform: c.platform})
	if err != nil {
		c.g.log.Warn("presence: connect not recorded", zap.Int64("user_id", c.actor.UserID), zap.Error(err))
	}
}

// presenceDisconnected tells the application the connection closed: with
// the user's last connection here their typing stops, and a grace later,
// unless they come back, they go offline.
func (c *conn) presenceDisconnected() {
	if c.presence == "" {
		return // never set up
	}
	// Also while the gateway shuts down, when its context is canceled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.g.ctx), c.g.opts.CommandTimeout)
	defer cancel()
	err := c.g.app.Commands.DisconnectPresence.Handle(ctx, command.DisconnectPresence{Actor: c.actor, ConnID: c.presence})
	if err != nil {
		c.g.log.Warn("presence: disconnect not fully recorded", zap.Int64("user_id", c.actor.UserID), zap.Error(err))
	}
}

// activityFrames are what a person does (API.md, Activity); ping and
// delivered are not. The presence frame is activity too, recorded with its
// status by onPresence.
var activityFrames = map[string]bool{frameSend: true, frameTyping: true, frameRead: true}

// touchActivity records the frame as activity if it is one.
func (c *conn) touchActivity(ctx context.Context, f clientFrame) {
	if !activityFrames[f.Type] || c.presence == "" {
		return
	}
	err := c.g.app.Commands.TouchPresence.Handle(ctx, command.TouchPresence{Actor: c.actor, ConnID: c.presence})
	if err != nil {
		c.g.log.Warn("presence: activity not recorded", zap.Int64("user_id", c.actor.UserID), zap.Error(err))
	}
}

// onPresence sets the status the client declares (online or away).
func (c *conn) onPresence(ctx context.Context, f clientFrame) {
	err := c.g.app.Commands.TouchPresence.Handle(ctx, command.TouchPresence{Actor: c.actor, ConnID: c.presence, Status: f.Status})
	if err != nil {
		c.sendError(f.Ref, err)
	}
}

// onTyping starts or stops the caller's typing in a chat; not_found for a
// chat they are not a member of.
func (c *conn) onTyping(ctx context.Context, f clientFrame) {
	err := c.g.app.Commands.SetTyping.Handle(ctx, command.SetTyping{Actor: c.actor, ChatID: f.ChatID, IsTyping: f.IsTyping})
	if err != nil {
		c.sendError(f.Ref, err)
	}
}

// onTyping delivers a typing signal of chat room r as typing.updated to
// the chat's local connections, except the typist's own.
func (h *hub) onTyping(r *room, e ports.Event) {
	var te command.TypingEvent
	if !h.decode(e, &te) || te.UserID <= 0 {
		return
	}
	frame, err := encodeFrame(api.FrameTypingUpdated, e.Data)
	if err != nil {
		h.log.Error("websocket hub: typing data is not JSON; dropped", zap.String("event_id", e.ID), zap.Error(err))
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.dead {
		return
	}
	for c := range r.conns {
		if c.actor.UserID != te.UserID {
			h.deliver(c, frame)
		}
	}
}

// PresenceChanged delivers presence.updated to the local connections of
// the members of chatIDs, once per connection, except p's own user's: the
// users who share a chat with them, as this instance's chat rooms know.
func (g *Gateway) PresenceChanged(p query.Presence, chatIDs []int64) {
	data, err := json.Marshal(p)
	if err != nil {
		g.log.Error("websocket: presence does not encode", zap.Error(err))
		return
	}
	frame, err := encodeFrame(ports.EventPresenceUpdated, json.RawMessage(data))
	if err != nil {
		g.log.Error("websocket: presence frame does not encode", zap.Error(err))
		return
	}
	g.hub.deliverToChats(chatIDs, p.UserID, frame)
}

// deliverToChats sends frame once to each local connection in the chats,
// except those of user except.
func (h *hub) deliverToChats(chatIDs []int64, except int64, frame []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var sent map[*conn]struct{}
	for _, id := range chatIDs {
		r := h.chats[id]
		if r == nil || r.dead {
			continue
		}
		for c := range r.conns {
			if c.actor.UserID == except {
				continue
			}
			if sent == nil {
				sent = make(map[*conn]struct{})
			}
			if _, dup := sent[c]; dup {
				continue
			}
			sent[c] = struct{}{}
			h.deliver(c, frame)
		}
	}
}
