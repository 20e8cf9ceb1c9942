package postgres

import (
	"context"
	"math"
	"time"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.ThreadRepository = (*ThreadRepository)(nil)

// ThreadRepository recounts thread roots from messages_thread_idx.
type ThreadRepository struct{ db *bun.DB }

// NewThreadRepository returns a ThreadRepository on db.
func NewThreadRepository(db *bun.DB) *ThreadRepository {
	mustDB(db, "NewThreadRepository")
	return &ThreadRepository{db: db}
}

func (r *ThreadRepository) Recount(ctx context.Context, rootID int64) (message.ThreadState, error) {
	var rows []struct {
		ID          int64      `bun:"id"`
		Seq         int64      `bun:"seq"`
		ReplyCount  int        `bun:"reply_count"`
		LastReplyAt *time.Time `bun:"last_reply_at"`
	}
	err := conn(ctx, r.db).NewRaw(`UPDATE messages rt SET (reply_count, last_reply_at) = (
	SELECT count(*), max(x.created_at) FROM messages x WHERE x.thread_root_id = rt.id AND x.deleted_at IS NULL)
WHERE rt.id = ? RETURNING rt.id, rt.seq, rt.reply_count, rt.last_reply_at`, rootID).Scan(ctx, &rows)
	if err != nil {
		return message.ThreadState{}, dbError(err, "recount thread")
	}
	if len(rows) == 0 {
		return message.ThreadState{RootID: rootID}, nil
	}
	return message.ThreadState{RootID: rows[0].ID, RootSeq: rows[0].Seq, ReplyCount: rows[0].ReplyCount, LastReplyAt: utc(deref(rows[0].LastReplyAt))}, nil
}

var _ query.ThreadReadModel = (*MessageReadModel)(nil)

// Replies pages through a thread on messages_thread_idx.
func (r *MessageReadModel) Replies(ctx context.Context, rootID, afterSeq int64, limit int) ([]query.Message, bool, error) {
	var rows []messageRow
	err := conn(ctx, r.db).NewSelect().Model(&rows).Where("thread_root_id = ? AND seq > ?", rootID, afterSeq).
		OrderExpr("seq ASC").Limit(int64(limit) + 1).Scan(ctx)
	if err != nil {
		return nil, false, dbError(err, "list replies")
	}
	return r.page(ctx, rows, limit)
}

// Mentions reads the caller's mentions: messages_mentions_idx (GIN) for
// those naming the user, messages_mentions_all_idx for <!all>, both
// restricted to the user's chats at query time.
func (r *MessageReadModel) Mentions(ctx context.Context, userID, beforeID int64, limit int) ([]query.Message, bool, error) {
	if beforeID <= 0 {
		beforeID = math.MaxInt64
	}
	var rows []messageRow
	err := conn(ctx, r.db).NewSelect().Model(&rows).
		Where("message_row.deleted_at IS NULL AND message_row.sender_id <> ? AND message_row.id < ?", userID, beforeID).
		Where("(message_row.mentions @> ARRAY[?]::bigint[] OR message_row.mentions_all)", userID).
		Where("EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = message_row.chat_id AND cm.user_id = ?)", userID).
		OrderExpr("message_row.id DESC").Limit(int64(limit) + 1).Scan(ctx)
	if err != nil {
		return nil, false, dbError(err, "list mentions")
	}
	return r.page(ctx, rows, limit)
}

func (r *MessageReadModel) page(ctx context.Context, rows []messageRow, limit int) ([]query.Message, bool, error) {
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	out := make([]query.Message, len(rows))
	for i, row := range rows {
		out[i] = query.MessageOf(row.domain())
	}
	if err := enrichMessages(ctx, conn(ctx, r.db), out); err != nil {
		return nil, false, err
	}
	return out, more, nil
}
