package command

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// Actor is the authenticated caller of a command.
type Actor struct {
	UserID      int64
	WorkspaceID int64
	SessionID   string
}

func mustHave(deps map[string]any) {
	for name, d := range deps {
		if d == nil {
			panic(fmt.Sprintf("command: nil dependency %s", name))
		}
	}
}

// eventRecorder collects events for one transaction.
type eventRecorder struct {
	clock ports.Clock
	ws    int64
	list  []ports.Event
}

// chat records an event on the chat's subject, heard by the instances
// that have a member of the chat connected.
func (r *eventRecorder) chat(typ string, chatID int64, data any) {
	r.add(typ, chatID, 0, data)
}

// user records an event on one user's subject: how a user hears of a chat
// that their instance is not yet following (a new chat, being added).
func (r *eventRecorder) user(typ string, userID int64, data any) {
	r.add(typ, 0, userID, data)
}

func (r *eventRecorder) add(typ string, chatID, userID int64, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		panic(fmt.Sprintf("command: event %s data does not encode: %v", typ, err)) // our own types always encode
	}
	r.list = append(r.list, ports.Event{ID: uuid.NewString(), Type: typ, Version: ports.EventVersion,
		OccurredAt: r.clock.Now().UTC(), WorkspaceID: r.ws, ChatID: chatID, UserID: userID, Data: b})
}

func (r *eventRecorder) save(ctx context.Context, outbox ports.Outbox) error {
	if len(r.list) == 0 {
		return nil
	}
	return outbox.Add(ctx, r.list...)
}

// The event payloads that are also WebSocket frame data are defined once,
// in package api.
type (
	MemberEvent         = api.MemberChange   // chat.member_added, chat.member_removed
	ChatDeletedEvent    = api.ChatDeleted    // chat.deleted
	MessageDeletedEvent = api.MessageDeleted // message.deleted
	TypingEvent         = api.TypingUpdate   // typing (ephemeral), typing.updated
)

// SessionRevokedEvent is the data of session.revoked (user-scoped): the
// sockets of that session close.
type SessionRevokedEvent struct {
	UserID    int64  `json:"user_id"`
	SessionID string `json:"session_id"`
}

// loadVisibleChat loads a chat for update and hides it (NotFound) from
// anyone who may not see it: another workspace, or a non-member of a chat
// that is not a public channel.
func loadVisibleChat(ctx context.Context, chats ports.ChatRepository, actor Actor, chatID int64) (*chat.Chat, error) {
	if chatID <= 0 {
		return nil, errs.NotFoundf("chat %d not found", chatID)
	}
	c, err := chats.Get(ctx, chatID)
	if err != nil {
		return nil, err
	}
	if c.WorkspaceID() != actor.WorkspaceID || !c.VisibleTo(actor.UserID) {
		return nil, errs.NotFoundf("chat %d not found", chatID)
	}
	return c, nil
}

// notAMember is the error for a write by someone who is not a member of
// chatID: Forbidden for a public channel of the caller's workspace (they
// can read it, and may join to write; API.md), NotFound otherwise.
func notAMember(ctx context.Context, chats ports.ChatRepository, actor Actor, chatID int64) error {
	if c, err := chats.Get(ctx, chatID); err == nil && c.WorkspaceID() == actor.WorkspaceID && c.Type() == chat.PublicChannel {
		return errs.Forbiddenf("join channel %d to write in it", chatID)
	}
	return errs.NotFoundf("chat %d not found", chatID)
}

// checkUsersInWorkspace fails with NotFound naming the first id that is not
// a user of the workspace.
func checkUsersInWorkspace(ctx context.Context, users ports.UserRepository, workspaceID int64, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	found, err := users.InWorkspace(ctx, workspaceID, ids)
	if err != nil {
		return err
	}
	have := make(map[int64]bool, len(found))
	for _, id := range found {
		have[id] = true
	}
	for _, id := range ids {
		if !have[id] {
			return errs.NotFoundf("user %d not found", id)
		}
	}
	return nil
}
