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

// MemberChatIDsOf lists the chats of each of userIDs, in one query.
func (r *MessageReadModel) MemberChatIDsOf(ctx context.Context, userIDs []int64) (map[int64][]int64, error) {
	out := make(map[int64][]int64, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		UserID int64 `bun:"user_id"`
		ChatID int64 `bun:"chat_id"`
	}
	err := conn(ctx, r.db).NewSelect().Table("chat_members").Column("user_id", "chat_id").
		Where("user_id IN (?)", bun.List(userIDs)).OrderExpr("user_id, chat_id").Scan(ctx, &rows)
	if err != nil {
		return nil, dbError(err, "list member chats")
	}
	for _, row := range rows {
		out[row.UserID] = append(out[row.UserID], row.ChatID)
	}
	return out, nil
}

// MessagesByIDs returns the messages of ids that exist, deleted included,
// with their attachments, reactions, mentions and thread fields.
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
	if err := enrichMessages(ctx, conn(ctx, r.db), out); err != nil {
		return nil, err
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
	Mentions    []int64   `bun:"mentions,array"`
	CreatedAt   time.Time `bun:"created_at"`
}

// SearchDocuments pages through every live message by id, for reindexing.
func (r *MessageReadModel) SearchDocuments(ctx context.Context, afterID int64, limit int) ([]ports.SearchDocument, error) {
	return r.searchDocuments(ctx, func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("m.id > ?", afterID).OrderExpr("m.id").Limit(int64(limit))
	})
}

// SearchDocumentsByID builds the documents of the live messages among ids,
// for the indexer (event.DocumentLoader).
func (r *MessageReadModel) SearchDocumentsByID(ctx context.Context, ids []int64) ([]ports.SearchDocument, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return r.searchDocuments(ctx, func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("m.id IN (?)", bun.List(ids))
	})
}

// MessagesMentioning lists the live messages of chatID that mention
// userID (messages_mentions_idx), for re-indexing after a rename.
func (r *MessageReadModel) MessagesMentioning(ctx context.Context, chatID, userID int64) ([]int64, error) {
	ids := []int64{}
	err := conn(ctx, r.db).NewSelect().Table("messages").Column("id").
		Where("mentions @> ARRAY[?]::bigint[] AND deleted_at IS NULL", userID).Where("chat_id = ?", chatID).
		OrderExpr("id").Scan(ctx, &ids)
	if err != nil {
		return nil, dbError(err, "find mentions")
	}
	return ids, nil
}

// searchDocuments builds the documents of the live messages where picks,
// in three reads: the messages, their attachments' names, and the names
// of the users they mention (full name and email local part).
func (r *MessageReadModel) searchDocuments(ctx context.Context, where func(*bun.SelectQuery) *bun.SelectQuery) ([]ports.SearchDocument, error) {
	db := conn(ctx, r.db)
	var rows []searchDocRow
	q := db.NewSelect().TableExpr("messages AS m").
		ColumnExpr("m.id, m.chat_id, c.workspace_id, m.sender_id, m.seq, m.content, m.mentions, m.created_at").
		Join("JOIN chats AS c ON c.id = m.chat_id").
		Where("m.deleted_at IS NULL")
	if err := where(q).Scan(ctx, &rows); err != nil {
		return nil, dbError(err, "load messages for search")
	}
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(rows))
	var mentioned []int64
	for i, row := range rows {
		ids[i] = row.ID
		mentioned = append(mentioned, row.Mentions...)
	}
	var files []struct {
		MessageID int64  `bun:"message_id"`
		Name      string `bun:"name"`
	}
	err := db.NewSelect().Table("files").Column("message_id", "name").
		Where("message_id IN (?) AND deleted_at IS NULL", bun.List(ids)).OrderExpr("message_id, id").Scan(ctx, &files)
	if err != nil {
		return nil, dbError(err, "load attachment names for search")
	}
	fileNames := make(map[int64][]string)
	for _, f := range files {
		fileNames[f.MessageID] = append(fileNames[f.MessageID], f.Name)
	}
	userNames := make(map[int64][]string)
	if len(mentioned) > 0 {
		var users []struct {
			ID       int64  `bun:"id"`
			Fullname string `bun:"fullname"`
			Email    string `bun:"email"`
		}
		err := db.NewSelect().Table("users").Column("id", "fullname", "email").
			Where("id IN (?)", bun.List(mentioned)).Scan(ctx, &users)
		if err != nil {
			return nil, dbError(err, "load mentioned names for search")
		}
		for _, u := range users {
			userNames[u.ID] = query.SearchNames(u.Fullname, u.Email)
		}
	}
	out := make([]ports.SearchDocument, len(rows))
	for i, row := range rows {
		out[i] = ports.SearchDocument{ID: row.ID, ChatID: row.ChatID, WorkspaceID: row.WorkspaceID, SenderID: row.SenderID,
			Seq: row.Seq, Content: row.Content, FileNames: fileNames[row.ID], CreatedAt: row.CreatedAt.UTC()}
		for _, id := range row.Mentions {
			out[i].MentionNames = append(out[i].MentionNames, userNames[id]...)
		}
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
