package command

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

// SendMessage appends a message to a chat the caller belongs to.
type SendMessage struct {
	Actor          Actor
	ChatID         int64
	Content        string
	IdempotencyKey string
	ReplyToID      int64
}

// SendMessageHandler handles SendMessage.
type SendMessageHandler struct {
	tx       ports.Transactor
	chats    ports.ChatRepository
	messages ports.MessageRepository
	outbox   ports.Outbox
	clock    ports.Clock
	limiter  ports.RateLimiter
}

// NewSendMessageHandler builds the handler.
func NewSendMessageHandler(tx ports.Transactor, chats ports.ChatRepository, messages ports.MessageRepository, outbox ports.Outbox, clock ports.Clock, limiter ports.RateLimiter) SendMessageHandler {
	mustHave(map[string]any{"tx": tx, "chats": chats, "messages": messages, "outbox": outbox, "clock": clock, "limiter": limiter})
	return SendMessageHandler{tx: tx, chats: chats, messages: messages, outbox: outbox, clock: clock, limiter: limiter}
}

// Handle sends the message. A repeat with the same idempotency key returns
// the original message and replay true, however concurrent the repeats are.
func (h SendMessageHandler) Handle(ctx context.Context, cmd SendMessage) (msg query.Message, replay bool, err error) {
	m, err := message.New(cmd.ChatID, cmd.Actor.UserID, cmd.Content, cmd.IdempotencyKey, cmd.ReplyToID, h.clock.Now())
	if err != nil {
		return query.Message{}, false, err
	}
	if cmd.IdempotencyKey != "" {
		if msg, err := h.replay(ctx, cmd); err == nil || !errs.Is(err, errs.NotFound) {
			return msg, err == nil, err
		}
	}
	if _, err := h.chats.Membership(ctx, cmd.ChatID, cmd.Actor.UserID); err != nil {
		if errs.Is(err, errs.NotFound) {
			return query.Message{}, false, errs.NotFoundf("chat %d not found", cmd.ChatID)
		}
		return query.Message{}, false, err
	}
	if ok, wait := h.limiter.Allow(ctx, "send:"+strconv.FormatInt(cmd.Actor.UserID, 10)); !ok {
		return query.Message{}, false, errs.RateLimitedf(wait, "sending too fast; retry in %s", wait.Round(time.Millisecond))
	}
	if cmd.ReplyToID != 0 {
		parent, err := h.messages.ByID(ctx, cmd.ReplyToID)
		if err != nil && !errs.Is(err, errs.NotFound) {
			return query.Message{}, false, err
		}
		if err != nil || parent.ChatID() != cmd.ChatID {
			return query.Message{}, false, errs.Invalidf("reply_to_id %d is not a message of chat %d", cmd.ReplyToID, cmd.ChatID)
		}
	}
	err = h.tx.InTx(ctx, func(ctx context.Context) error {
		if err := h.messages.Append(ctx, m); err != nil {
			return err
		}
		ev := eventRecorder{clock: h.clock, ws: cmd.Actor.WorkspaceID}
		ev.chat(ports.EventMessageCreated, m.ChatID(), query.MessageOf(m))
		return ev.save(ctx, h.outbox)
	})
	if errors.Is(err, ports.ErrDuplicateIdempotencyKey) {
		// A concurrent send with the same key committed first.
		msg, err := h.replay(ctx, cmd)
		return msg, err == nil, err
	}
	if err != nil {
		return query.Message{}, false, err
	}
	return query.MessageOf(m), false, nil
}

// replay returns the sender's message with the command's key; NotFound if
// none, Conflict if the key was used for another chat or content.
func (h SendMessageHandler) replay(ctx context.Context, cmd SendMessage) (query.Message, error) {
	orig, err := h.messages.ByIdempotencyKey(ctx, cmd.Actor.UserID, cmd.IdempotencyKey)
	if err != nil {
		return query.Message{}, err
	}
	if !orig.SameRequest(cmd.ChatID, cmd.Content) {
		return query.Message{}, errs.Conflictf("idempotency_key %q was already used for another message", cmd.IdempotencyKey)
	}
	return query.MessageOf(orig), nil
}
