package command

import (
	"context"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// AddMembers adds users of the workspace to a chat; owner or admin.
type AddMembers struct {
	Actor   Actor
	ChatID  int64
	UserIDs []int64
}

// AddMembersHandler handles AddMembers.
type AddMembersHandler struct {
	tx     ports.Transactor
	chats  ports.ChatRepository
	users  ports.UserRepository
	outbox ports.Outbox
	clock  ports.Clock
}

// NewAddMembersHandler builds the handler.
func NewAddMembersHandler(tx ports.Transactor, chats ports.ChatRepository, users ports.UserRepository, outbox ports.Outbox, clock ports.Clock) AddMembersHandler {
	mustHave(map[string]any{"tx": tx, "chats": chats, "users": users, "outbox": outbox, "clock": clock})
	return AddMembersHandler{tx: tx, chats: chats, users: users, outbox: outbox, clock: clock}
}

// Handle adds the members and returns the chat's whole member list.
func (h AddMembersHandler) Handle(ctx context.Context, cmd AddMembers) ([]query.Member, error) {
	if len(cmd.UserIDs) == 0 {
		return nil, errs.Invalidf("user_ids must name at least one user")
	}
	var out []query.Member
	err := h.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := loadVisibleChat(ctx, h.chats, cmd.Actor, cmd.ChatID)
		if err != nil {
			return err
		}
		added, err := c.AddMembers(cmd.Actor.UserID, cmd.UserIDs, h.clock.Now())
		if err != nil {
			return err
		}
		ids := make([]int64, len(added))
		for i, m := range added {
			ids[i] = m.UserID
		}
		if err := checkUsersInWorkspace(ctx, h.users, cmd.Actor.WorkspaceID, ids); err != nil {
			return err
		}
		if len(added) > 0 {
			if err := h.chats.AddMembers(ctx, c.ID(), added); err != nil {
				return err
			}
		}
		for _, m := range c.Members() {
			out = append(out, query.MemberOf(m))
		}
		ev := eventRecorder{clock: h.clock, ws: cmd.Actor.WorkspaceID}
		for _, m := range added {
			ev.chat(ports.EventChatMemberAdded, c.ID(), MemberEvent{ChatID: c.ID(), UserID: m.UserID, Role: string(m.Role)})
			ev.user(ports.EventChatMemberAdded, m.UserID, MemberEvent{ChatID: c.ID(), UserID: m.UserID, Role: string(m.Role)})
		}
		return ev.save(ctx, h.outbox)
	})
	return out, err
}
