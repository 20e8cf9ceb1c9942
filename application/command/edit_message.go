package command

import (
	"context"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

// EditMessage replaces the content of the caller's own message.
type EditMessage struct {
	Actor   Actor
	ChatID  int64
	Seq     int64
	Content string
}

// EditMessageHandler handles EditMessage.
type EditMessageHandler struct {
	tx       ports.Transactor
	chats    ports.ChatRepository
	messages ports.MessageRepository
	outbox   ports.Outbox
	clock    ports.Clock

	reads query.MessageReadModel // nil: the answer and event carry the row alone
	links query.FileLinks
}

// WithReads makes the answer and message.updated the whole message, as
// read back in the edit's transaction: its attachments (links signed),
// reactions and thread fields, which an edit keeps. Without it they would
// carry none, and a client replacing its copy with message.updated would
// lose them.
func (h EditMessageHandler) WithReads(reads query.MessageReadModel, links query.FileLinks) EditMessageHandler {
	mustHave(map[string]any{"reads": reads})
	h.reads, h.links = reads, links
	return h
}

// NewEditMessageHandler builds the handler.
func NewEditMessageHandler(tx ports.Transactor, chats ports.ChatRepository, messages ports.MessageRepository, outbox ports.Outbox, clock ports.Clock) EditMessageHandler {
	mustHave(map[string]any{"tx": tx, "chats": chats, "messages": messages, "outbox": outbox, "clock": clock})
	return EditMessageHandler{tx: tx, chats: chats, messages: messages, outbox: outbox, clock: clock}
}

// Handle edits the message.
func (h EditMessageHandler) Handle(ctx context.Context, cmd EditMessage) (query.Message, error) {
	if err := message.ValidateContent(cmd.Content); err != nil {
		return query.Message{}, err
	}
	var out query.Message
	err := h.tx.InTx(ctx, func(ctx context.Context) error {
		m, _, err := loadMemberMessage(ctx, h.chats, h.messages, cmd.Actor, cmd.ChatID, cmd.Seq)
		if err != nil {
			return err
		}
		if err := m.Edit(cmd.Actor.UserID, cmd.Content, h.clock.Now()); err != nil {
			return err
		}
		// Editing re-computes the mentions: members of the chat only.
		m.SetMentions(m.Mentions().OnlyMembers(func(id int64) bool {
			_, err := h.chats.Membership(ctx, m.ChatID(), id)
			return err == nil
		}))
		if err := h.messages.Save(ctx, m); err != nil {
			return err
		}
		out = query.MessageOf(m)
		if h.reads != nil {
			full, err := h.reads.MessageBySeq(ctx, m.ChatID(), m.Seq())
			if err != nil {
				return err
			}
			h.links.Sign(full.Attachments)
			out = full
		}
		ev := eventRecorder{clock: h.clock, ws: cmd.Actor.WorkspaceID}
		ev.chat(ports.EventMessageUpdated, m.ChatID(), out)
		return ev.save(ctx, h.outbox)
	})
	return out, err
}

// loadMemberMessage loads a message of a chat the actor belongs to, with
// the actor's role; NotFound for non-members.
func loadMemberMessage(ctx context.Context, chats ports.ChatRepository, messages ports.MessageRepository, actor Actor, chatID, seq int64) (*message.Message, chat.Role, error) {
	mem, err := chats.Membership(ctx, chatID, actor.UserID)
	if errs.Is(err, errs.NotFound) {
		return nil, "", errs.NotFoundf("chat %d not found", chatID)
	}
	if err != nil {
		return nil, "", err
	}
	if seq <= 0 {
		return nil, "", errs.NotFoundf("message %d not found in chat %d", seq, chatID)
	}
	m, err := messages.BySeq(ctx, chatID, seq)
	if err != nil {
		return nil, "", err
	}
	return m, mem.Role, nil
}
