package command

import (
	"context"

	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

// EventReactionUpdated is the type of the reaction.updated event.
const EventReactionUpdated = api.FrameReactionUpdated

// ReactionUpdatedEvent is the data of reaction.updated.
type ReactionUpdatedEvent = api.ReactionUpdate

// React adds (Add) or removes the caller's emoji on a message.
type React struct {
	Actor  Actor
	ChatID int64
	Seq    int64
	Emoji  string
	Add    bool
}

// ReactHandler handles React. Both directions are idempotent: a repeat
// changes nothing and records no event.
type ReactHandler struct {
	tx        ports.Transactor
	chats     ports.ChatRepository
	messages  ports.MessageRepository
	reactions ports.ReactionRepository
	outbox    ports.Outbox
	clock     ports.Clock
}

// NewReactHandler builds the handler.
func NewReactHandler(tx ports.Transactor, chats ports.ChatRepository, messages ports.MessageRepository, reactions ports.ReactionRepository, outbox ports.Outbox, clock ports.Clock) ReactHandler {
	mustHave(map[string]any{"tx": tx, "chats": chats, "messages": messages, "reactions": reactions, "outbox": outbox, "clock": clock})
	return ReactHandler{tx: tx, chats: chats, messages: messages, reactions: reactions, outbox: outbox, clock: clock}
}

// Handle applies the change and returns the message's reactions.
func (h ReactHandler) Handle(ctx context.Context, cmd React) ([]query.Reaction, error) {
	if err := message.ValidateEmoji(cmd.Emoji); err != nil {
		return nil, err
	}
	var out []query.Reaction
	err := h.tx.InTx(ctx, func(ctx context.Context) error {
		m, err := loadWritableMessage(ctx, h.chats, h.messages, cmd.Actor, cmd.ChatID, cmd.Seq)
		if err != nil {
			return err
		}
		if err := m.CanReact(); err != nil {
			return err
		}
		set, err := h.reactions.Load(ctx, m.ID())
		if err != nil {
			return err
		}
		var changed bool
		if cmd.Add {
			changed, err = set.Add(cmd.Actor.UserID, cmd.Emoji)
		} else {
			changed, err = set.Remove(cmd.Actor.UserID, cmd.Emoji)
		}
		if err != nil {
			return err
		}
		out = query.ReactionsOf(set.List())
		if !changed {
			return nil
		}
		if cmd.Add {
			err = h.reactions.Add(ctx, m.ID(), cmd.Actor.UserID, cmd.Emoji)
		} else {
			err = h.reactions.Remove(ctx, m.ID(), cmd.Actor.UserID, cmd.Emoji)
		}
		if err != nil {
			return err
		}
		ev := eventRecorder{clock: h.clock, ws: cmd.Actor.WorkspaceID}
		ev.chat(EventReactionUpdated, m.ChatID(), ReactionUpdatedEvent{ChatID: m.ChatID(), Seq: m.Seq(), MessageID: m.ID(),
			Emoji: cmd.Emoji, UserID: cmd.Actor.UserID, Added: cmd.Add, Count: set.Count(cmd.Emoji)})
		return ev.save(ctx, h.outbox)
	})
	return out, err
}

// loadWritableMessage loads (and locks) a message of a chat the actor is a
// member of. A workspace member previewing a public channel may read it
// but not write: forbidden; anyone else learns nothing: not found.
func loadWritableMessage(ctx context.Context, chats ports.ChatRepository, messages ports.MessageRepository, actor Actor, chatID, seq int64) (*message.Message, error) {
	m, _, err := loadMemberMessage(ctx, chats, messages, actor, chatID, seq)
	if errs.Is(err, errs.NotFound) {
		if _, merr := chats.Membership(ctx, chatID, actor.UserID); errs.Is(merr, errs.NotFound) {
			if _, verr := loadVisibleChat(ctx, chats, actor, chatID); verr == nil {
				return nil, errs.Forbiddenf("join chat %d to write in it", chatID)
			}
		}
	}
	return m, err
}
