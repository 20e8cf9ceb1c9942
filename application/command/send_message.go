package command

import (
	"context"
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
	AttachmentIDs  []int64 // 1..10 files of the caller's, or none
}

// SendMessageHandler handles SendMessage.
type SendMessageHandler struct {
	sender   ports.MessageSender
	chats    ports.ChatRepository // optional: tells previewers of public channels 403
	messages ports.MessageRepository
	clock    ports.Clock
	limiter  ports.RateLimiter

	files ports.FileRepository // nil: sends carry no files
	links query.FileLinks
}

// WithFiles lets sends carry attachments.
func (h SendMessageHandler) WithFiles(files ports.FileRepository, links query.FileLinks) SendMessageHandler {
	mustHave(map[string]any{"files": files})
	h.files, h.links = files, links
	return h
}

// NewSendMessageHandler builds the handler. messages serves only the
// replays of a client over its send limit.
func NewSendMessageHandler(sender ports.MessageSender, messages ports.MessageRepository, clock ports.Clock, limiter ports.RateLimiter) SendMessageHandler {
	mustHave(map[string]any{"sender": sender, "messages": messages, "clock": clock, "limiter": limiter})
	return SendMessageHandler{sender: sender, messages: messages, clock: clock, limiter: limiter}
}

// WithPreviewers makes a non-member's send to a public channel of their
// workspace (which they may read) a Forbidden rather than a NotFound.
func (h SendMessageHandler) WithPreviewers(chats ports.ChatRepository) SendMessageHandler {
	h.chats = chats
	return h
}

// Handle sends the message with one write (ports.MessageSender), which
// settles membership, the idempotency key, the seq, the sender's pointers
// and the outbox together. A repeat with the same idempotency key returns
// the original message and replay true, however concurrent the repeats are;
// the same key with another chat or content is a Conflict.
func (h SendMessageHandler) Handle(ctx context.Context, cmd SendMessage) (msg query.Message, replay bool, err error) {
	m, err := message.NewWithAttachments(cmd.ChatID, cmd.Actor.UserID, cmd.Content, cmd.IdempotencyKey, cmd.ReplyToID, cmd.AttachmentIDs, h.clock.Now())
	if err != nil {
		return query.Message{}, false, err
	}
	attachments, err := h.attachable(ctx, cmd)
	if err != nil {
		return query.Message{}, false, err
	}
	if ok, wait := h.limiter.Allow(ctx, "send:"+strconv.FormatInt(cmd.Actor.UserID, 10)); !ok {
		// A retry of a send that was stored is answered even over the
		// limit: it writes nothing.
		if cmd.IdempotencyKey != "" {
			if prior, err := h.messages.ByIdempotencyKey(ctx, cmd.Actor.UserID, cmd.IdempotencyKey); err == nil {
				return h.answer(ctx, cmd, ports.Sent{Message: prior, Replay: true}, nil)
			}
		}
		return query.Message{}, false, errs.RateLimitedf(wait, "sending too fast; retry in %s", wait.Round(time.Millisecond))
	}
	sent, err := h.sender.Send(ctx, m, SentEvents(h.clock, cmd.Actor.WorkspaceID, attachments))
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			if h.chats == nil {
				return query.Message{}, false, errs.NotFoundf("chat %d not found", cmd.ChatID)
			}
			return query.Message{}, false, notAMember(ctx, h.chats, cmd.Actor, cmd.ChatID)
		}
		return query.Message{}, false, err
	}
	return h.answer(ctx, cmd, sent, attachments)
}

// answer is the message sent, or the original of a replay when the repeat
// asks for the same thing (else Conflict).
func (h SendMessageHandler) answer(ctx context.Context, cmd SendMessage, sent ports.Sent, files []query.File) (query.Message, bool, error) {
	if sent.Replay && !sent.Message.SameRequest(cmd.ChatID, cmd.Content) {
		return query.Message{}, false, errs.Conflictf("idempotency_key %q was already used for another message", cmd.IdempotencyKey)
	}
	if sent.Replay && h.files != nil { // the original's attachments
		files = nil
		stored, err := h.files.ByMessage(ctx, sent.Message.ID())
		if err != nil {
			return query.Message{}, false, err
		}
		for _, f := range stored {
			files = append(files, h.links.Of(f))
		}
	}
	return h.show(sent.Message, files), sent.Replay, nil
}

// attachable loads the files a send names, refusing early what the write
// would refuse: someone else's or a deleted file (not found: it is
// invisible), a file attached already (conflict). The write checks again,
// against concurrent sends.
func (h SendMessageHandler) attachable(ctx context.Context, cmd SendMessage) ([]query.File, error) {
	if len(cmd.AttachmentIDs) == 0 {
		return nil, nil
	}
	if h.files == nil {
		return nil, errs.Invalidf("attachments are not supported")
	}
	out := make([]query.File, 0, len(cmd.AttachmentIDs))
	for _, id := range cmd.AttachmentIDs {
		f, err := h.files.ByID(ctx, id)
		if errs.Is(err, errs.NotFound) || err == nil && (f.UploaderID() != cmd.Actor.UserID || f.Deleted()) {
			return nil, errs.NotFoundf("file %d not found", id)
		}
		if err != nil {
			return nil, err
		}
		if f.MessageID() != 0 {
			return nil, errs.Conflictf("file %d is already attached to a message", id)
		}
		out = append(out, h.links.Of(f))
	}
	return out, nil
}

func (h SendMessageHandler) show(m *message.Message, files []query.File) query.Message {
	return showSent(m, files)
}

func showSent(m *message.Message, files []query.File) query.Message {
	out := query.MessageOf(m)
	if len(files) > 0 {
		out.Attachments = files
	}
	return out
}

// SentEvents builds the events of a message a send stored, in the
// workspace ws, with its attachments: message.created (its data the
// message as the API shows it) and, for a reply, thread.updated. The send
// handler uses it, and so does the benchmark's bulk seeding (bench
// --seed-bulk), which writes the outbox rows a send would.
func SentEvents(clock ports.Clock, ws int64, attachments []query.File) ports.MessageEvents {
	return func(m *message.Message) []ports.Event {
		ev := eventRecorder{clock: clock, ws: ws}
		ev.chat(ports.EventMessageCreated, m.ChatID(), showSent(m, attachments))
		if t, ok := m.Thread(); ok {
			ev.chat(EventThreadUpdated, m.ChatID(), threadEvent(m.ChatID(), t))
		}
		return ev.list
	}
}
