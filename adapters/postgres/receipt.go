package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/receipt"
	"github.com/fechatter/fechatter/ports"
)

var (
	_ ports.ReceiptRepository = (*ReceiptRepository)(nil)
	_ query.ReceiptReadModel  = (*ReceiptReadModel)(nil)
)

// ReceiptRepository keeps the pointers in chat_members and their moves in
// receipt_moves.
type ReceiptRepository struct{ db *bun.DB }

// NewReceiptRepository returns a ReceiptRepository on db.
func NewReceiptRepository(db *bun.DB) *ReceiptRepository {
	mustDB(db, "NewReceiptRepository")
	return &ReceiptRepository{db: db}
}

// loadReceipt reads the member's pointers and the chat's last seq. The
// bound is at least the pointers: after waiting for the lock of a send by
// the same member, the member row is the new one but the chats row may be
// the one read before the wait.
const loadReceipt = `
SELECT m.last_delivered_seq, m.last_read_seq,
	GREATEST(c.last_seq, m.last_delivered_seq, m.last_read_seq) AS last_seq
FROM chat_members m
JOIN chats c ON c.id = m.chat_id
WHERE m.chat_id = ? AND m.user_id = ?`

// lockReceipt is loadReceipt for a transaction. It takes the chat row FOR
// KEY SHARE (the lock the receipt_moves foreign key takes anyway) before
// the member row FOR UPDATE: the order of chat commands (chat row FOR
// UPDATE, then member rows) and of sends (chat row, then the sender's
// row), so a read racing a removal waits instead of deadlocking. KEY
// SHARE does not conflict with a send's seq bump. The materialized CTE is
// read, and so locked, before the outer query locks the member row.
const lockReceipt = `
WITH c AS MATERIALIZED (
	SELECT id, last_seq FROM chats WHERE id = ? FOR KEY SHARE
)
SELECT m.last_delivered_seq, m.last_read_seq,
	GREATEST(c.last_seq, m.last_delivered_seq, m.last_read_seq) AS last_seq
FROM c
JOIN chat_members m ON m.chat_id = c.id
WHERE m.user_id = ?
FOR UPDATE OF m`

// Get locks the chat row (shared) and the member row (exclusive) inside a
// transaction.
func (r *ReceiptRepository) Get(ctx context.Context, chatID, userID int64) (*receipt.Receipt, error) {
	q := loadReceipt
	if inTxNow(ctx, r.db) {
		q = lockReceipt
	}
	var rows []struct {
		LastDeliveredSeq int64 `bun:"last_delivered_seq"`
		LastReadSeq      int64 `bun:"last_read_seq"`
		LastSeq          int64 `bun:"last_seq"`
	}
	if err := conn(ctx, r.db).NewRaw(q, chatID, userID).Scan(ctx, &rows); err != nil {
		return nil, dbError(err, "load receipt")
	}
	if len(rows) == 0 {
		return nil, errs.NotFoundf("user %d is not a member of chat %d", userID, chatID)
	}
	row := rows[0]
	return receipt.UnmarshalFromDatabase(chatID, userID, row.LastDeliveredSeq, row.LastReadSeq, row.LastSeq), nil
}

// Save is one statement: the pointers move with GREATEST (never back),
// and the moves are inserted only if the member row is there.
func (r *ReceiptRepository) Save(ctx context.Context, rc *receipt.Receipt, moves []receipt.Move) error {
	var b strings.Builder
	args := []any{rc.LastDeliveredSeq(), rc.LastReadSeq(), rc.ChatID(), rc.UserID()}
	b.WriteString(`
WITH member AS (
	UPDATE chat_members
	SET last_delivered_seq = GREATEST(last_delivered_seq, ?), last_read_seq = GREATEST(last_read_seq, ?)
	WHERE chat_id = ? AND user_id = ?
	RETURNING chat_id, user_id
)`)
	if len(moves) > 0 {
		b.WriteString(`, moves AS (
	INSERT INTO receipt_moves (chat_id, user_id, kind, from_seq, to_seq, at)
	SELECT member.chat_id, member.user_id, v.kind, v.from_seq, v.to_seq, v.at
	FROM member, (VALUES `)
		for i, m := range moves {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(`(?::text, ?::bigint, ?::bigint, ?::timestamptz)`)
			args = append(args, string(m.Kind), m.FromSeq, m.ToSeq, m.At)
		}
		b.WriteString(`) AS v(kind, from_seq, to_seq, at)
)`)
	}
	b.WriteString(`
SELECT count(*) FROM member`)
	var n int
	if err := conn(ctx, r.db).NewRaw(b.String(), args...).Scan(ctx, &n); err != nil {
		return dbError(err, "save receipt")
	}
	if n == 0 {
		return errs.NotFoundf("user %d is not a member of chat %d", rc.UserID(), rc.ChatID())
	}
	return nil
}

type receiptMoveRow struct {
	Kind    string    `bun:"kind"`
	FromSeq int64     `bun:"from_seq"`
	ToSeq   int64     `bun:"to_seq"`
	At      time.Time `bun:"at"`
}

// Moves lists the member's moves by time; a delivered move made with a
// read one (same instant) comes first, as it was made first.
func (r *ReceiptRepository) Moves(ctx context.Context, chatID, userID int64) ([]receipt.Move, error) {
	var rows []receiptMoveRow
	err := conn(ctx, r.db).NewRaw(`
SELECT kind, from_seq, to_seq, at FROM receipt_moves
WHERE chat_id = ? AND user_id = ?
ORDER BY at, kind, to_seq`, chatID, userID).Scan(ctx, &rows)
	if err != nil {
		return nil, dbError(err, "list receipt moves")
	}
	out := make([]receipt.Move, len(rows))
	for i, row := range rows {
		out[i] = receipt.Move{Kind: receipt.Kind(row.Kind), FromSeq: row.FromSeq, ToSeq: row.ToSeq, At: row.At.UTC()}
	}
	return out, nil
}

// ReceiptReadModel answers GetReceipts from receipt_moves.
type ReceiptReadModel struct{ db *bun.DB }

// NewReceiptReadModel returns a ReceiptReadModel on db.
func NewReceiptReadModel(db *bun.DB) *ReceiptReadModel {
	mustDB(db, "NewReceiptReadModel")
	return &ReceiptReadModel{db: db}
}

// receiptsOf is one query: the message (so a missing one is told from one
// with no other member: a row with a null user), each member other than
// its sender, and per member and kind the earliest move over its seq, each
// a probe of receipt_moves (chat_id, user_id, kind, to_seq).
const receiptsOf = `
SELECT m.user_id,
	(SELECT min(r.at) FROM receipt_moves r
		WHERE r.chat_id = msg.chat_id AND r.user_id = m.user_id AND r.kind = 'delivered'
		AND r.to_seq >= msg.seq AND r.from_seq < msg.seq) AS delivered_at,
	(SELECT min(r.at) FROM receipt_moves r
		WHERE r.chat_id = msg.chat_id AND r.user_id = m.user_id AND r.kind = 'read'
		AND r.to_seq >= msg.seq AND r.from_seq < msg.seq) AS read_at
FROM messages msg
LEFT JOIN chat_members m ON m.chat_id = msg.chat_id AND m.user_id <> msg.sender_id
WHERE msg.chat_id = ? AND msg.seq = ?
ORDER BY m.join_order`

func (r *ReceiptReadModel) Receipts(ctx context.Context, chatID, seq int64) ([]query.Receipt, error) {
	var rows []struct {
		UserID      *int64     `bun:"user_id"`
		DeliveredAt *time.Time `bun:"delivered_at"`
		ReadAt      *time.Time `bun:"read_at"`
	}
	if err := conn(ctx, r.db).NewRaw(receiptsOf, chatID, seq).Scan(ctx, &rows); err != nil {
		return nil, dbError(err, "load receipts")
	}
	if len(rows) == 0 {
		return nil, errs.NotFoundf("message %d not found in chat %d", seq, chatID)
	}
	out := make([]query.Receipt, 0, len(rows))
	for _, row := range rows {
		if row.UserID == nil {
			continue // the sender is the only member
		}
		out = append(out, query.Receipt{UserID: *row.UserID, DeliveredAt: utcPtr(row.DeliveredAt), ReadAt: utcPtr(row.ReadAt)})
	}
	return out, nil
}
