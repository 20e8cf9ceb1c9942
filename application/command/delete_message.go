package command

import (
	"context"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/ports"
)

// DeleteMessage turns a message into a tombstone.
type DeleteMessage struct {
	Actor  Actor
	ChatID int64
	Seq    int64
}

// DeleteMessageHandler handles DeleteMessage.
type DeleteMessageHandler struct {
	tx       ports.Transactor
	chats    ports.ChatRepository
	messages ports.MessageRepository
	outbox   ports.Outbox
	clock    ports.Clock
}

// NewDeleteMessageHandler builds the handler.
func NewDeleteMessageHandler(tx ports.Transactor, chats ports.ChatRepository, messages ports.MessageRepository, outbox ports.Outbox, clock ports.Clock) DeleteMessageHandler {
	mustHave(map[string]any{"tx": tx, "chats": chats, "messages": messages, "outbox": outbox, "clock": clock})
	return DeleteMessageHandler{tx: tx, chats: chats, messages: messages, outbox: outbox, clock: clock}
}

// Handle deletes; deleting a deleted message changes nothing.
func (h DeleteMessageHandler) Handle(ctx context.Context, cmd DeleteMessage) error {
	return h.tx.InTx(ctx, func(ctx context.Context) error {
		m, role, err := loadMemberMessage(ctx, h.chats, h.messages, cmd.Actor, cmd.ChatID, cmd.Seq)
		if err != nil {
			return err
		}
		if m.Deleted() {
			return nil
		}
		moderator := role == chat.Owner || role == chat.Admin
		if err := m.Delete(cmd.Actor.UserID, moderator, h.clock.Now()); err != nil {
			return err
		}
		if err := h.messages.Save(ctx, m); err != nil {
			return err
		}
		ev := eventRecorder{clock: h.clock, ws: cmd.Actor.WorkspaceID}
		ev.chat(ports.EventMessageDeleted, m.ChatID(), MessageDeletedEvent{ChatID: m.ChatID(), ID: m.ID(), Seq: m.Seq()})
		return ev.save(ctx, h.outbox)
	})
}
