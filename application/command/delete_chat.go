package command

import (
	"context"

	"github.com/fechatter/fechatter/ports"
)

// DeleteChat deletes a chat with its messages; owner only.
type DeleteChat struct {
	Actor  Actor
	ChatID int64
}

// DeleteChatHandler handles DeleteChat.
type DeleteChatHandler struct {
	tx     ports.Transactor
	chats  ports.ChatRepository
	outbox ports.Outbox
	clock  ports.Clock
}

// NewDeleteChatHandler builds the handler.
func NewDeleteChatHandler(tx ports.Transactor, chats ports.ChatRepository, outbox ports.Outbox, clock ports.Clock) DeleteChatHandler {
	mustHave(map[string]any{"tx": tx, "chats": chats, "outbox": outbox, "clock": clock})
	return DeleteChatHandler{tx: tx, chats: chats, outbox: outbox, clock: clock}
}

// Handle deletes the chat.
func (h DeleteChatHandler) Handle(ctx context.Context, cmd DeleteChat) error {
	return h.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := loadVisibleChat(ctx, h.chats, cmd.Actor, cmd.ChatID)
		if err != nil {
			return err
		}
		if err := c.CanDelete(cmd.Actor.UserID); err != nil {
			return err
		}
		if err := h.chats.Delete(ctx, c.ID()); err != nil {
			return err
		}
		ev := eventRecorder{clock: h.clock, ws: cmd.Actor.WorkspaceID}
		ev.chat(ports.EventChatDeleted, c.ID(), ChatDeletedEvent{ChatID: c.ID()})
		return ev.save(ctx, h.outbox)
	})
}
