package command

import (
	"context"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/ports"
)

// ChangeRole sets a member's role; owner only. Giving owner hands over.
type ChangeRole struct {
	Actor  Actor
	ChatID int64
	UserID int64
	Role   string
}

// ChangeRoleHandler handles ChangeRole.
type ChangeRoleHandler struct {
	tx     ports.Transactor
	chats  ports.ChatRepository
	outbox ports.Outbox
	clock  ports.Clock
}

// NewChangeRoleHandler builds the handler.
func NewChangeRoleHandler(tx ports.Transactor, chats ports.ChatRepository, outbox ports.Outbox, clock ports.Clock) ChangeRoleHandler {
	mustHave(map[string]any{"tx": tx, "chats": chats, "outbox": outbox, "clock": clock})
	return ChangeRoleHandler{tx: tx, chats: chats, outbox: outbox, clock: clock}
}

// Handle changes the role and returns the target's membership.
func (h ChangeRoleHandler) Handle(ctx context.Context, cmd ChangeRole) (query.Member, error) {
	role, err := chat.ParseRole(cmd.Role)
	if err != nil {
		return query.Member{}, err
	}
	var out query.Member
	err = h.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := loadVisibleChat(ctx, h.chats, cmd.Actor, cmd.ChatID)
		if err != nil {
			return err
		}
		changed, err := c.ChangeRole(cmd.Actor.UserID, cmd.UserID, role, h.clock.Now())
		if err != nil {
			return err
		}
		for _, m := range changed {
			if err := h.chats.SetRole(ctx, c.ID(), m.UserID, m.Role); err != nil {
				return err
			}
		}
		if role == chat.Owner && len(changed) > 0 {
			if err := h.chats.SaveInfo(ctx, c); err != nil {
				return err
			}
			ev := eventRecorder{clock: h.clock, ws: cmd.Actor.WorkspaceID}
			ev.chat(ports.EventChatUpdated, c.ID(), query.ChatOf(c))
			if err := ev.save(ctx, h.outbox); err != nil {
				return err
			}
		}
		m, _ := c.Member(cmd.UserID)
		out = query.MemberOf(m)
		return nil
	})
	return out, err
}
