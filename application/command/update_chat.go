package command

import (
	"context"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// UpdateChat renames a chat or changes its description.
type UpdateChat struct {
	Actor       Actor
	ChatID      int64
	Name        *string
	Description *string
}

// UpdateChatHandler handles UpdateChat.
type UpdateChatHandler struct {
	tx     ports.Transactor
	chats  ports.ChatRepository
	outbox ports.Outbox
	clock  ports.Clock
}

// NewUpdateChatHandler builds the handler.
func NewUpdateChatHandler(tx ports.Transactor, chats ports.ChatRepository, outbox ports.Outbox, clock ports.Clock) UpdateChatHandler {
	mustHave(map[string]any{"tx": tx, "chats": chats, "outbox": outbox, "clock": clock})
	return UpdateChatHandler{tx: tx, chats: chats, outbox: outbox, clock: clock}
}

// Handle applies the change.
func (h UpdateChatHandler) Handle(ctx context.Context, cmd UpdateChat) (query.Chat, error) {
	if cmd.Name == nil && cmd.Description == nil {
		return query.Chat{}, errs.Invalidf("give name or description to change")
	}
	var out query.Chat
	err := h.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := loadVisibleChat(ctx, h.chats, cmd.Actor, cmd.ChatID)
		if err != nil {
			return err
		}
		if err := c.Update(cmd.Actor.UserID, cmd.Name, cmd.Description, h.clock.Now()); err != nil {
			return err
		}
		if err := h.chats.SaveInfo(ctx, c); err != nil {
			return err
		}
		out = query.ChatOf(c)
		ev := eventRecorder{clock: h.clock, ws: cmd.Actor.WorkspaceID}
		ev.chat(ports.EventChatUpdated, c.ID(), out)
		return ev.save(ctx, h.outbox)
	})
	return out, err
}
