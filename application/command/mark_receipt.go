package command

import (
	"context"
	"time"

	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/receipt"
	"github.com/fechatter/fechatter/ports"
)

// MarkDelivered moves the caller's delivered pointer in a chat forward to
// Seq: the messages up to Seq reached one of the caller's devices.
type MarkDelivered struct {
	Actor  Actor
	ChatID int64
	Seq    int64
}

// MarkRead moves the caller's read pointer in a chat forward to Seq, and
// the delivered pointer with it when it was behind.
type MarkRead struct {
	Actor  Actor
	ChatID int64
	Seq    int64
}

// ReceiptUpdatedEvent is the data of receipt.updated.
type ReceiptUpdatedEvent = api.ReceiptUpdate

// MarkDeliveredHandler handles MarkDelivered.
type MarkDeliveredHandler struct{ m receiptMarker }

// MarkReadHandler handles MarkRead.
type MarkReadHandler struct{ m receiptMarker }

// NewMarkDeliveredHandler builds the handler.
func NewMarkDeliveredHandler(tx ports.Transactor, chats ports.ChatRepository, receipts ports.ReceiptRepository, outbox ports.Outbox, clock ports.Clock) MarkDeliveredHandler {
	return MarkDeliveredHandler{newReceiptMarker(tx, chats, receipts, outbox, clock)}
}

// NewMarkReadHandler builds the handler.
func NewMarkReadHandler(tx ports.Transactor, chats ports.ChatRepository, receipts ports.ReceiptRepository, outbox ports.Outbox, clock ports.Clock) MarkReadHandler {
	return MarkReadHandler{newReceiptMarker(tx, chats, receipts, outbox, clock)}
}

// Handle moves the pointer and returns the caller's membership after it.
// A seq at or below the pointer changes nothing and is not an error.
func (h MarkDeliveredHandler) Handle(ctx context.Context, cmd MarkDelivered) (query.Member, error) {
	return h.m.mark(ctx, cmd.Actor, cmd.ChatID, cmd.Seq, (*receipt.Receipt).MarkDelivered)
}

// Handle moves the pointers and returns the caller's membership after it.
// A seq at or below the pointer changes nothing and is not an error.
func (h MarkReadHandler) Handle(ctx context.Context, cmd MarkRead) (query.Member, error) {
	return h.m.mark(ctx, cmd.Actor, cmd.ChatID, cmd.Seq, (*receipt.Receipt).MarkRead)
}

// receiptMarker is what the two handlers share: they differ only in the
// rule they apply to the receipt.
type receiptMarker struct {
	tx       ports.Transactor
	chats    ports.ChatRepository
	receipts ports.ReceiptRepository
	outbox   ports.Outbox
	clock    ports.Clock
}

func newReceiptMarker(tx ports.Transactor, chats ports.ChatRepository, receipts ports.ReceiptRepository, outbox ports.Outbox, clock ports.Clock) receiptMarker {
	mustHave(map[string]any{"tx": tx, "chats": chats, "receipts": receipts, "outbox": outbox, "clock": clock})
	return receiptMarker{tx: tx, chats: chats, receipts: receipts, outbox: outbox, clock: clock}
}

// mark applies move in one transaction: the member's pointers, one receipt
// move per pointer that moved, and receipt.updated to the chat only when
// one did, so a repeated or late frame costs no write and no broadcast.
func (h receiptMarker) mark(ctx context.Context, actor Actor, chatID, seq int64,
	move func(*receipt.Receipt, int64, time.Time) ([]receipt.Move, error)) (query.Member, error) {
	if err := receipt.ValidateSeq(seq); err != nil {
		return query.Member{}, err
	}
	if chatID <= 0 {
		return query.Member{}, errs.NotFoundf("chat %d not found", chatID)
	}
	var out query.Member
	err := h.tx.InTx(ctx, func(ctx context.Context) error {
		r, err := h.receipts.Get(ctx, chatID, actor.UserID)
		if errs.Is(err, errs.NotFound) {
			return notAMember(ctx, h.chats, actor, chatID)
		}
		if err != nil {
			return err
		}
		moves, err := move(r, seq, h.clock.Now())
		if err != nil {
			return err
		}
		if len(moves) > 0 {
			if err := h.receipts.Save(ctx, r, moves); err != nil {
				return err
			}
			ev := eventRecorder{clock: h.clock, ws: actor.WorkspaceID}
			ev.chat(ports.EventReceiptUpdated, chatID, ReceiptUpdatedEvent{ChatID: chatID, UserID: actor.UserID,
				LastDeliveredSeq: r.LastDeliveredSeq(), LastReadSeq: r.LastReadSeq()})
			if err := ev.save(ctx, h.outbox); err != nil {
				return err
			}
		}
		m, err := h.chats.Membership(ctx, chatID, actor.UserID)
		if err != nil {
			return err
		}
		out = query.MemberOf(m)
		return nil
	})
	return out, err
}
