package command

import (
	"context"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// CreateChat creates a chat of the caller's workspace.
type CreateChat struct {
	Actor       Actor
	Type        string
	Name        string
	Description string
	MemberIDs   []int64
}

// CreateChatHandler handles CreateChat.
type CreateChatHandler struct {
	tx     ports.Transactor
	chats  ports.ChatRepository
	users  ports.UserRepository
	outbox ports.Outbox
	clock  ports.Clock
	limits chat.Limits
}

// NewCreateChatHandler builds the handler.
func NewCreateChatHandler(tx ports.Transactor, chats ports.ChatRepository, users ports.UserRepository, outbox ports.Outbox, clock ports.Clock, limits chat.Limits) CreateChatHandler {
	mustHave(map[string]any{"tx": tx, "chats": chats, "users": users, "outbox": outbox, "clock": clock})
	return CreateChatHandler{tx: tx, chats: chats, users: users, outbox: outbox, clock: clock, limits: limits}
}

// Handle creates the chat. For a direct chat that already exists it returns
// that one with created false.
func (h CreateChatHandler) Handle(ctx context.Context, cmd CreateChat) (c query.Chat, created bool, err error) {
	typ, err := chat.ParseType(cmd.Type)
	if err != nil {
		return query.Chat{}, false, err
	}
	now := h.clock.Now()
	ch, err := chat.New(cmd.Actor.WorkspaceID, cmd.Actor.UserID, typ, cmd.Name, cmd.Description, cmd.MemberIDs, h.limits, now)
	if err != nil {
		return query.Chat{}, false, err
	}
	others := ch.MemberIDs()[1:]
	if err := checkUsersInWorkspace(ctx, h.users, cmd.Actor.WorkspaceID, others); err != nil {
		return query.Chat{}, false, err
	}
	if typ == chat.Direct {
		if existing, err := h.chats.FindDirect(ctx, cmd.Actor.WorkspaceID, ch.DirectKey()); err == nil {
			return query.ChatOf(existing), false, nil
		} else if !errs.Is(err, errs.NotFound) {
			return query.Chat{}, false, err
		}
	}
	err = h.tx.InTx(ctx, func(ctx context.Context) error {
		if err := h.chats.Create(ctx, ch); err != nil {
			return err
		}
		ev := eventRecorder{clock: h.clock, ws: cmd.Actor.WorkspaceID}
		ev.chat(ports.EventChatCreated, ch.ID(), query.ChatOf(ch))
		for _, m := range ch.Members() {
			ev.user(ports.EventChatCreated, m.UserID, query.ChatOf(ch))
		}
		return ev.save(ctx, h.outbox)
	})
	if typ == chat.Direct && errs.Is(err, errs.Conflict) {
		// Someone created the same direct chat at the same moment.
		if existing, ferr := h.chats.FindDirect(ctx, cmd.Actor.WorkspaceID, ch.DirectKey()); ferr == nil {
			return query.ChatOf(existing), false, nil
		}
	}
	if err != nil {
		return query.Chat{}, false, err
	}
	return query.ChatOf(ch), true, nil
}
