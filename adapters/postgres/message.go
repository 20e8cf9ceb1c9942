package postgres

import (
	"context"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.MessageRepository = (*MessageRepository)(nil)

// MessageRepository stores messages in the messages table.
type MessageRepository struct{ db *bun.DB }

// NewMessageRepository returns a MessageRepository on db.
func NewMessageRepository(db *bun.DB) *MessageRepository {
	mustDB(db, "NewMessageRepository")
	return &MessageRepository{db: db}
}

// bumpSeq takes the chat's next seq. The row lock it takes serializes sends
// to one chat until commit, which keeps seq gapless and ordered.
const bumpSeq = `UPDATE chats SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq`

// insertMessage stores the message, then (only if it was stored) moves the
// chat's updated_at and the sender's pointers forward, recording each move
// in receipt_moves, all in one round trip. The member row is locked first
// so the moves start where the pointers really were.
const insertMessage = `
WITH ins AS (
	INSERT INTO messages (chat_id, seq, sender_id, content, reply_to_id, idempotency_key, created_at)
	VALUES (?chat, ?seq, ?sender, ?content, ?reply, ?key, ?at)
	ON CONFLICT (sender_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
	RETURNING id
), chat AS (
	UPDATE chats SET updated_at = GREATEST(updated_at, ?at::timestamptz)
	WHERE id = ?chat AND EXISTS (SELECT 1 FROM ins)
), old AS (
	SELECT last_delivered_seq AS delivered, last_read_seq AS read
	FROM chat_members
	WHERE chat_id = ?chat AND user_id = ?sender AND EXISTS (SELECT 1 FROM ins)
	FOR UPDATE
), member AS (
	UPDATE chat_members m
	SET last_delivered_seq = GREATEST(old.delivered, ?seq), last_read_seq = GREATEST(old.read, ?seq)
	FROM old WHERE m.chat_id = ?chat AND m.user_id = ?sender
), moves AS (
	INSERT INTO receipt_moves (chat_id, user_id, kind, from_seq, to_seq, at)
	SELECT ?chat::bigint, ?sender::bigint, 'delivered', delivered, ?seq::bigint, ?at::timestamptz
	FROM old WHERE delivered < ?seq
	UNION ALL
	SELECT ?chat::bigint, ?sender::bigint, 'read', read, ?seq::bigint, ?at::timestamptz
	FROM old WHERE read < ?seq
)
SELECT id FROM ins`

// Append runs in the caller's transaction (or its own when there is none).
// A taken idempotency key gives the seq back, so the caller's transaction
// stays usable and the chat's seq gapless even if it commits.
func (r *MessageRepository) Append(ctx context.Context, m *message.Message) error {
	return inTx(ctx, r.db, func(ctx context.Context) error {
		db := conn(ctx, r.db)
		var seq int64
		if err := db.NewRaw(bumpSeq, m.ChatID()).Scan(ctx, &seq); err != nil {
			return notFound(err, "chat %d not found", m.ChatID())
		}
		args := struct {
			Chat    int64
			Seq     int64
			Sender  int64
			Content string
			Reply   any
			Key     any
			At      any
		}{m.ChatID(), seq, m.SenderID(), m.Content(), nullInt(m.ReplyToID()), nullString(m.IdempotencyKey()), m.CreatedAt()}
		var ids []int64
		if err := db.NewRaw(insertMessage, &args).Scan(ctx, &ids); err != nil {
			return dbError(err, "append message")
		}
		if len(ids) == 0 {
			if _, err := db.NewRaw(`UPDATE chats SET last_seq = last_seq - 1 WHERE id = ?`, m.ChatID()).Exec(ctx); err != nil {
				return dbError(err, "give back seq")
			}
			return errs.Wrap(errs.Conflict, ports.ErrDuplicateIdempotencyKey,
				"idempotency key %q was already used by sender %d", m.IdempotencyKey(), m.SenderID())
		}
		m.Assign(ids[0], seq)
		return nil
	})
}

func (r *MessageRepository) ByIdempotencyKey(ctx context.Context, senderID int64, key string) (*message.Message, error) {
	var row messageRow
	err := conn(ctx, r.db).NewSelect().Model(&row).
		Where("sender_id = ?", senderID).Where("idempotency_key = ?", key).Scan(ctx)
	if err != nil {
		return nil, notFound(err, "no message of sender %d with key %q", senderID, key)
	}
	return row.domain(), nil
}

// BySeq locks the row (FOR UPDATE) inside a transaction.
func (r *MessageRepository) BySeq(ctx context.Context, chatID, seq int64) (*message.Message, error) {
	var row messageRow
	sel := conn(ctx, r.db).NewSelect().Model(&row).Where("chat_id = ?", chatID).Where("seq = ?", seq)
	if inTxNow(ctx, r.db) {
		sel = sel.For("UPDATE")
	}
	if err := sel.Scan(ctx); err != nil {
		return nil, notFound(err, "message %d not found in chat %d", seq, chatID)
	}
	return row.domain(), nil
}

func (r *MessageRepository) ByID(ctx context.Context, id int64) (*message.Message, error) {
	var row messageRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err, "message id %d not found", id)
	}
	return row.domain(), nil
}

func (r *MessageRepository) Save(ctx context.Context, m *message.Message) error {
	res, err := conn(ctx, r.db).NewUpdate().Model((*messageRow)(nil)).
		Set("content = ?", m.Content()).
		Set("edited_at = ?", nullTime(m.EditedAt())).
		Set("deleted_at = ?", nullTime(m.DeletedAt())).
		Set("mentions = ?", pgdialect.Array(nonNil(m.Mentions().UserIDs))).
		Set("mentions_all = ?", m.Mentions().All).
		Where("id = ?", m.ID()).Exec(ctx)
	if err != nil {
		return dbError(err, "save message")
	}
	return oneRow(res, "message id %d not found", m.ID())
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

func (row messageRow) domain() *message.Message {
	m := message.UnmarshalFromDatabase(row.ID, row.ChatID, row.Seq, row.SenderID, row.Content, row.ReplyToID,
		row.IdempotencyKey, utc(row.CreatedAt), utc(row.EditedAt), utc(row.DeletedAt))
	m.SetThreadRoot(row.ThreadRootID)
	m.SetMentions(message.Mentions{UserIDs: row.Mentions, All: row.MentionsAll})
	return m
}
