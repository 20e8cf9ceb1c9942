package command

import (
	"context"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// SetTyping starts or stops the caller's typing indicator in a chat they
// are a member of. Never stored: it goes to the chat's other members
// (typing.updated), throttled, and expires by itself.
type SetTyping struct {
	Actor    Actor
	ChatID   int64
	IsTyping bool
}

// SetTypingHandler handles SetTyping.
type SetTypingHandler struct {
	chats ports.ChatRepository
	p     *LocalPresence
}

// NewSetTypingHandler builds the handler.
func NewSetTypingHandler(chats ports.ChatRepository, p *LocalPresence) SetTypingHandler {
	mustHave(map[string]any{"chats": chats})
	mustHavePresence(p)
	return SetTypingHandler{chats: chats, p: p}
}

// Handle broadcasts a start (expires_at = now + 6 s) unless one was
// broadcast less than 2 s ago, and a stop if the members were told of a
// start. NotFound for a chat the caller is not a member of: nothing is
// broadcast then.
func (h SetTypingHandler) Handle(ctx context.Context, cmd SetTyping) error {
	if cmd.ChatID <= 0 {
		return errs.NotFoundf("chat %d not found", cmd.ChatID)
	}
	// A throttled repeat broadcasts nothing, and its sender was a member
	// when the start it repeats was checked: no need to ask again.
	if cmd.IsTyping && h.p.typingThrottled(typingKey{cmd.ChatID, cmd.Actor.UserID}, h.p.clock.Now()) {
		return nil
	}
	if _, err := h.chats.Membership(ctx, cmd.ChatID, cmd.Actor.UserID); err != nil {
		if errs.Is(err, errs.NotFound) {
			return notAMember(ctx, h.chats, cmd.Actor, cmd.ChatID)
		}
		return err
	}
	return h.p.setTyping(ctx, cmd.Actor, cmd.ChatID, cmd.IsTyping)
}

// sendHandler is what StopTypingOnSend decorates: SendMessageHandler, or
// a decorator of it.
type sendHandler interface {
	Handle(ctx context.Context, cmd SendMessage) (msg query.Message, replay bool, err error)
}

// StopTypingOnSend returns next extended with a rule of typing: a message
// sent in a chat stops its sender's typing there (is_typing false is
// broadcast if the members were told of a start).
func StopTypingOnSend(next sendHandler, p *LocalPresence) TypingStoppingSend {
	mustHave(map[string]any{"next": next})
	mustHavePresence(p)
	return TypingStoppingSend{next: next, p: p}
}

// TypingStoppingSend is a SendMessage handler that stops the sender's
// typing in the chat once the message is sent.
type TypingStoppingSend struct {
	next sendHandler
	p    *LocalPresence
}

// Handle sends, then stops the typing. Failing to broadcast the stop does
// not fail the send: the indicator expires by itself.
func (h TypingStoppingSend) Handle(ctx context.Context, cmd SendMessage) (query.Message, bool, error) {
	msg, replay, err := h.next.Handle(ctx, cmd)
	if err == nil {
		_ = h.p.setTyping(ctx, cmd.Actor, cmd.ChatID, false)
	}
	return msg, replay, err
}
