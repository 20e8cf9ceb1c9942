package command

import (
	"context"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/ports"
)

// JoinChannel adds the caller to a public channel of their workspace.
type JoinChannel struct {
	Actor  Actor
	ChatID int64
}

// JoinChannelHandler handles JoinChannel.
type JoinChannelHandler struct {
	tx     ports.Transactor
	chats  ports.ChatRepository
	outbox ports.Outbox
	clock  ports.Clock
}

// NewJoinChannelHandler builds the handler.
func NewJoinChannelHandler(tx ports.Transactor, chats ports.ChatRepository, outbox ports.Outbox, clock ports.Clock) JoinChannelHandler {
	mustHave(map[string]any{"tx": tx, "chats": chats, "outbox": outbox, "clock": clock})
	return JoinChannelHandler{tx: tx, chats: chats, outbox: outbox, clock: clock}
}

// Handle joins; joining a channel one is already in changes nothing.
func (h JoinChannelHandler) Handle(ctx context.Context, cmd JoinChannel) error {
	return h.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := loadVisibleChat(ctx, h.chats, cmd.Actor, cmd.ChatID)
		if err != nil {
			return err
		}
		m, added, err := c.Join(cmd.Actor.UserID, h.clock.Now())
		if err != nil || !added {
			return err
		}
		if err := h.chats.AddMembers(ctx, c.ID(), []chat.Membership{m}); err != nil {
			return err
		}
		ev := eventRecorder{clock: h.clock, ws: cmd.Actor.WorkspaceID}
		ev.chat(ports.EventChatMemberAdded, c.ID(), MemberEvent{ChatID: c.ID(), UserID: m.UserID, Role: string(m.Role)})
		ev.user(ports.EventChatMemberAdded, m.UserID, MemberEvent{ChatID: c.ID(), UserID: m.UserID, Role: string(m.Role)})
		return ev.save(ctx, h.outbox)
	})
}
