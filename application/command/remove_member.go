package command

import (
	"context"

	"github.com/fechatter/fechatter/ports"
)

// RemoveMember removes a member from a chat, or lets the caller leave.
type RemoveMember struct {
	Actor  Actor
	ChatID int64
	UserID int64
}

// RemoveMemberHandler handles RemoveMember.
type RemoveMemberHandler struct {
	tx     ports.Transactor
	chats  ports.ChatRepository
	outbox ports.Outbox
	clock  ports.Clock
}

// NewRemoveMemberHandler builds the handler.
func NewRemoveMemberHandler(tx ports.Transactor, chats ports.ChatRepository, outbox ports.Outbox, clock ports.Clock) RemoveMemberHandler {
	mustHave(map[string]any{"tx": tx, "chats": chats, "outbox": outbox, "clock": clock})
	return RemoveMemberHandler{tx: tx, chats: chats, outbox: outbox, clock: clock}
}

// Handle removes the member.
func (h RemoveMemberHandler) Handle(ctx context.Context, cmd RemoveMember) error {
	return h.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := loadVisibleChat(ctx, h.chats, cmd.Actor, cmd.ChatID)
		if err != nil {
			return err
		}
		removed, err := c.RemoveMember(cmd.Actor.UserID, cmd.UserID, h.clock.Now())
		if err != nil {
			return err
		}
		if err := h.chats.RemoveMember(ctx, c.ID(), removed.UserID); err != nil {
			return err
		}
		ev := eventRecorder{clock: h.clock, ws: cmd.Actor.WorkspaceID}
		ev.chat(ports.EventChatMemberRemoved, c.ID(), MemberEvent{ChatID: c.ID(), UserID: removed.UserID, Role: string(removed.Role)})
		ev.user(ports.EventChatMemberRemoved, removed.UserID, MemberEvent{ChatID: c.ID(), UserID: removed.UserID, Role: string(removed.Role)})
		return ev.save(ctx, h.outbox)
	})
}
