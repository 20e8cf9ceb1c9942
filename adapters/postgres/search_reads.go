package postgres

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports"
)

var (
	_ query.MemberChats   = (*MessageReadModel)(nil)
	_ query.MessageLookup = (*MessageReadModel)(nil)
)

// MemberChatIDs lists the chats userID belongs to (the (user_id, chat_id)
// index answers it alone).
func (r *MessageReadModel) MemberChatIDs(ctx context.Context, userID int64) ([]int64, error) {
	ids := []int64{}
	err := conn(ctx, r.db).NewSelect().Table("chat_members").Column("chat_id").
		Where("user_id = ?", userID).OrderExpr("chat_id").Scan(ctx, &ids)
	if err != nil {
		return nil, dbError(err, "list member chats")
	}
	return ids, nil
}

// MessagesByIDs returns the messages of ids that exist, deleted included.
func (r *MessageReadModel) MessagesByIDs(ctx context.Context, ids []int64) ([]query.Message, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []messageRow
	if err := conn(ctx, r.db).NewSelect().Model(&rows).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, dbError(err, "load messages")
	}
	out := make([]query.Message, len(rows))
	for i, row := range rows {
		out[i] = query.MessageOf(row.domain())
	}
	return out, nil
}

type searchDocRow struct {
	ID          int64     `bun:"id"`
	ChatID      int64     `bun:"chat_id"`
	WorkspaceID int64     `bun:"workspace_id"`
	SenderID    int64     `bun:"sender_id"`
	Seq         int64     `bun:"seq"`
	Content     string    `bun:"content"`
	CreatedAt   time.Time `bun:"created_at"`
}

// SearchDocuments pages through every live message by id, for reindexing.
func (r *MessageReadModel) SearchDocuments(ctx context.Context, afterID int64, limit int) ([]ports.SearchDocument, error) {
	var rows []searchDocRow
	err := conn(ctx, r.db).NewSelect().TableExpr("messages AS m").
		ColumnExpr("m.id, m.chat_id, c.workspace_id, m.sender_id, m.seq, m.content, m.created_at").
		Join("JOIN chats AS c ON c.id = m.chat_id").
		Where("m.id > ?", afterID).Where("m.deleted_at IS NULL").
		OrderExpr("m.id").Limit(int64(limit)).Scan(ctx, &rows)
	if err != nil {
		return nil, dbError(err, "page messages for reindex")
	}
	out := make([]ports.SearchDocument, len(rows))
	for i, row := range rows {
		out[i] = ports.SearchDocument{ID: row.ID, ChatID: row.ChatID, WorkspaceID: row.WorkspaceID, SenderID: row.SenderID,
			Seq: row.Seq, Content: row.Content, CreatedAt: row.CreatedAt.UTC()}
	}
	return out, nil
}

// CountSearchDocuments counts the live messages, for reindex progress.
func (r *MessageReadModel) CountSearchDocuments(ctx context.Context) (int, error) {
	n, err := conn(ctx, r.db).NewSelect().Table("messages").Where("deleted_at IS NULL").Count(ctx)
	if err != nil {
		return 0, dbError(err, "count messages")
	}
	return int(n), nil
}
