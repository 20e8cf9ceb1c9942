package command

import (
	"context"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/file"
	"github.com/fechatter/fechatter/ports"
)

// DeleteMessage turns a message into a tombstone.
type DeleteMessage struct {
	Actor  Actor
	ChatID int64
	Seq    int64
}

// DeleteMessageHandler handles DeleteMessage.
type DeleteMessageHandler struct {
	tx       ports.Transactor
	chats    ports.ChatRepository
	messages ports.MessageRepository
	outbox   ports.Outbox
	clock    ports.Clock

	// Issue 14: a deleted message loses its reactions and its files.
	reactions ports.ReactionRepository
	files     ports.FileRepository
	cleaner   FileCleaner
	threads   ports.ThreadRepository
}

// WithThreads makes deleting a reply recount its thread (thread.updated).
func (h DeleteMessageHandler) WithThreads(threads ports.ThreadRepository) DeleteMessageHandler {
	mustHave(map[string]any{"threads": threads})
	h.threads = threads
	return h
}

// NewDeleteMessageHandler builds the handler.
func NewDeleteMessageHandler(tx ports.Transactor, chats ports.ChatRepository, messages ports.MessageRepository, outbox ports.Outbox, clock ports.Clock) DeleteMessageHandler {
	mustHave(map[string]any{"tx": tx, "chats": chats, "messages": messages, "outbox": outbox, "clock": clock})
	return DeleteMessageHandler{tx: tx, chats: chats, messages: messages, outbox: outbox, clock: clock}
}

// WithAttachments makes deletes remove the message's reactions and its
// files (metadata in the transaction, bytes after it).
func (h DeleteMessageHandler) WithAttachments(reactions ports.ReactionRepository, files ports.FileRepository, cleaner FileCleaner) DeleteMessageHandler {
	mustHave(map[string]any{"reactions": reactions, "files": files})
	h.reactions, h.files, h.cleaner = reactions, files, cleaner
	return h
}

// Handle deletes; deleting a deleted message changes nothing.
func (h DeleteMessageHandler) Handle(ctx context.Context, cmd DeleteMessage) error {
	var gone []*file.File
	err := h.tx.InTx(ctx, func(ctx context.Context) error {
		m, role, err := loadMemberMessage(ctx, h.chats, h.messages, cmd.Actor, cmd.ChatID, cmd.Seq)
		if err != nil {
			return err
		}
		if m.Deleted() {
			return nil
		}
		moderator := role == chat.Owner || role == chat.Admin
		if err := m.Delete(cmd.Actor.UserID, moderator, h.clock.Now()); err != nil {
			return err
		}
		if err := h.messages.Save(ctx, m); err != nil {
			return err
		}
		if h.files != nil {
			if err := h.reactions.RemoveAll(ctx, m.ID()); err != nil {
				return err
			}
			files, err := h.files.ByMessage(ctx, m.ID())
			if err != nil {
				return err
			}
			now := h.clock.Now()
			for _, f := range files {
				f.Delete(now)
			}
			if err := h.files.MarkDeleted(ctx, files); err != nil {
				return err
			}
			gone = files
		}
		ev := eventRecorder{clock: h.clock, ws: cmd.Actor.WorkspaceID}
		ev.chat(ports.EventMessageDeleted, m.ChatID(), MessageDeletedEvent{ChatID: m.ChatID(), ID: m.ID(), Seq: m.Seq()})
		if root := m.ThreadRootID(); root != 0 && h.threads != nil {
			t, err := h.threads.Recount(ctx, root)
			if err != nil {
				return err
			}
			ev.chat(EventThreadUpdated, m.ChatID(), threadEvent(m.ChatID(), t))
		}
		return ev.save(ctx, h.outbox)
	})
	if err == nil && len(gone) > 0 {
		h.cleaner.removeBytes(ctx, gone)
	}
	return err
}
