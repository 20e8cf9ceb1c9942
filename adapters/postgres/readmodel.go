package postgres

import (
	"context"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
)

var (
	_ query.ChatReadModel    = (*ChatReadModel)(nil)
	_ query.MessageReadModel = (*MessageReadModel)(nil)
)

// ChatReadModel answers chat queries with SQL shaped for them, never
// loading aggregates.
type ChatReadModel struct {
	db        *bun.DB
	positions *loader[int64, []query.ChatPosition] // ChatPositions outside a transaction
}

// NewChatReadModel returns a ChatReadModel on db.
func NewChatReadModel(db *bun.DB) *ChatReadModel {
	mustDB(db, "NewChatReadModel")
	r := &ChatReadModel{db: db}
	r.positions = newLoader("list chat positions", lookupBatch, lookupTimeout, func(ctx context.Context, ids []int64) (map[int64][]query.ChatPosition, error) {
		return r.chatPositionsOn(ctx, r.db, ids)
	})
	return r
}

// ChatPositions is asked on every WebSocket connect: outside a
// transaction, the concurrent connects' lists come from one query.
func (r *ChatReadModel) ChatPositions(ctx context.Context, userID int64) ([]query.ChatPosition, error) {
	if !inTxNow(ctx, r.db) {
		return r.positions.Load(ctx, userID)
	}
	byUser, err := r.chatPositionsOn(ctx, conn(ctx, r.db), []int64{userID})
	return byUser[userID], err
}

// chatPositionsOn lists the chats of many users, counting each chat's
// members once however many of them connect together.
func (r *ChatReadModel) chatPositionsOn(ctx context.Context, db bun.IDB, userIDs []int64) (map[int64][]query.ChatPosition, error) {
	var rows []struct {
		UserID      int64 `bun:"user_id"`
		ChatID      int64 `bun:"chat_id"`
		LastSeq     int64 `bun:"last_seq"`
		MemberCount int   `bun:"member_count"`
	}
	err := db.NewRaw(`WITH mine AS (
	SELECT user_id, chat_id FROM chat_members WHERE user_id = ANY(?::bigint[])
), counts AS (
	SELECT x.chat_id, count(*) AS member_count FROM chat_members x
	WHERE x.chat_id IN (SELECT DISTINCT chat_id FROM mine) GROUP BY x.chat_id
)
SELECT mine.user_id, c.id AS chat_id, c.last_seq, counts.member_count
FROM mine JOIN chats c ON c.id = mine.chat_id JOIN counts ON counts.chat_id = c.id
ORDER BY mine.user_id, c.id`, pgdialect.Array(userIDs)).Scan(ctx, &rows)
	if err != nil {
		return nil, dbError(err, "list chat positions")
	}
	out := make(map[int64][]query.ChatPosition, len(userIDs))
	for _, row := range rows {
		out[row.UserID] = append(out[row.UserID], query.ChatPosition{ChatID: row.ChatID, LastSeq: row.LastSeq, MemberCount: row.MemberCount})
	}
	return out, nil
}

// summaryRow is one chat as one user sees it, with its last message.
type summaryRow struct {
	ID               int64     `bun:"id"`
	WorkspaceID      int64     `bun:"workspace_id"`
	Type             string    `bun:"type"`
	Name             string    `bun:"name"`
	Description      string    `bun:"description"`
	OwnerID          *int64    `bun:"owner_id"`
	LastSeq          int64     `bun:"last_seq"`
	CreatedAt        time.Time `bun:"created_at"`
	UpdatedAt        time.Time `bun:"updated_at"`
	MemberCount      int       `bun:"member_count"`
	Role             *string   `bun:"role"`
	LastReadSeq      int64     `bun:"last_read_seq"`
	LastDeliveredSeq int64     `bun:"last_delivered_seq"`
	UnreadCount      int64     `bun:"unread_count"`
	MentionCount     int64     `bun:"mention_count"`

	LMID             *int64     `bun:"lm_id"`
	LMSeq            *int64     `bun:"lm_seq"`
	LMSenderID       *int64     `bun:"lm_sender_id"`
	LMContent        *string    `bun:"lm_content"`
	LMReplyToID      *int64     `bun:"lm_reply_to_id"`
	LMIdempotencyKey *string    `bun:"lm_idempotency_key"`
	LMCreatedAt      *time.Time `bun:"lm_created_at"`
	LMEditedAt       *time.Time `bun:"lm_edited_at"`
	LMDeletedAt      *time.Time `bun:"lm_deleted_at"`
}

// summarySelect lists what a ChatSummary needs; the caller adds the FROM
// clause's chat_members row "m" (joined or left-joined), lastMessageJoin and
// the WHERE. The unread and mention counts are one lateral scan of the
// unread range of messages(chat_id, seq); the last message is one probe of
// the same index.
const summarySelect = `
SELECT c.id, c.workspace_id, c.type, c.name, c.description, c.owner_id, c.last_seq,
	c.created_at, c.updated_at,
	(SELECT count(*) FROM chat_members x WHERE x.chat_id = c.id) AS member_count,
	m.role,
	coalesce(m.last_read_seq, 0) AS last_read_seq,
	coalesce(m.last_delivered_seq, 0) AS last_delivered_seq,
	uc.unread_count, uc.mention_count,
	lm.id AS lm_id, lm.seq AS lm_seq, lm.sender_id AS lm_sender_id, lm.content AS lm_content,
	lm.reply_to_id AS lm_reply_to_id, lm.idempotency_key AS lm_idempotency_key,
	lm.created_at AS lm_created_at, lm.edited_at AS lm_edited_at, lm.deleted_at AS lm_deleted_at
`

const lastMessageJoin = `
LEFT JOIN LATERAL (
	SELECT count(*) AS unread_count,
		count(*) FILTER (WHERE u.mentions_all OR u.mentions @> ARRAY[m.user_id]) AS mention_count
	FROM messages u
	WHERE u.chat_id = c.id AND u.seq > m.last_read_seq
		AND u.sender_id <> m.user_id AND u.deleted_at IS NULL
) uc ON true
LEFT JOIN LATERAL (
	SELECT * FROM messages WHERE messages.chat_id = c.id ORDER BY seq DESC LIMIT 1
) lm ON true
`

// ListChats is one query: the user's memberships, their chats, unread
// counts and last messages, most recent activity first.
func (r *ChatReadModel) ListChats(ctx context.Context, userID int64) ([]query.ChatSummary, error) {
	var rows []summaryRow
	err := conn(ctx, r.db).NewRaw(summarySelect+`
FROM chat_members m
JOIN chats c ON c.id = m.chat_id`+lastMessageJoin+`
WHERE m.user_id = ?
ORDER BY coalesce(lm.created_at, c.updated_at) DESC, c.id DESC`, userID).Scan(ctx, &rows)
	if err != nil {
		return nil, dbError(err, "list chats")
	}
	out := make([]query.ChatSummary, len(rows))
	for i, row := range rows {
		out[i] = row.summary()
	}
	return out, nil
}

// ChatSummary shows a chat to a member, or a public channel to anyone of its
// workspace (with a null role and zero pointers).
func (r *ChatReadModel) ChatSummary(ctx context.Context, workspaceID, chatID, userID int64) (query.ChatSummary, error) {
	var rows []summaryRow
	err := conn(ctx, r.db).NewRaw(summarySelect+`
FROM chats c
LEFT JOIN chat_members m ON m.chat_id = c.id AND m.user_id = ?`+lastMessageJoin+`
WHERE c.id = ? AND c.workspace_id = ? AND (m.user_id IS NOT NULL OR c.type = ?)`,
		userID, chatID, workspaceID, string(chat.PublicChannel)).Scan(ctx, &rows)
	if err != nil {
		return query.ChatSummary{}, dbError(err, "load chat summary")
	}
	if len(rows) == 0 {
		return query.ChatSummary{}, errs.NotFoundf("chat %d not found", chatID)
	}
	return rows[0].summary(), nil
}

// PublicChannels lists the workspace's public channels by name, each as
// userID sees it.
func (r *ChatReadModel) PublicChannels(ctx context.Context, workspaceID, userID int64, q string, limit int) ([]query.ChatSummary, error) {
	var rows []summaryRow
	err := conn(ctx, r.db).NewRaw(summarySelect+`
FROM chats c
LEFT JOIN chat_members m ON m.chat_id = c.id AND m.user_id = ?`+lastMessageJoin+`
WHERE c.workspace_id = ? AND c.type = ? AND c.name ILIKE ? ESCAPE '\'
ORDER BY c.name, c.id
LIMIT ?`, userID, workspaceID, string(chat.PublicChannel), "%"+escapeLike(q)+"%", limit).Scan(ctx, &rows)
	if err != nil {
		return nil, dbError(err, "list public channels")
	}
	out := make([]query.ChatSummary, len(rows))
	for i, row := range rows {
		out[i] = row.summary()
	}
	return out, nil
}

func (row summaryRow) summary() query.ChatSummary {
	s := query.ChatSummary{
		Chat: query.Chat{ID: row.ID, WorkspaceID: row.WorkspaceID, Type: row.Type, Name: row.Name,
			Description: row.Description, OwnerID: row.OwnerID, MemberCount: row.MemberCount,
			LastSeq: row.LastSeq, CreatedAt: row.CreatedAt.UTC(), UpdatedAt: row.UpdatedAt.UTC()},
		UnreadCount: row.UnreadCount, MentionCount: row.MentionCount, LastReadSeq: row.LastReadSeq, LastDeliveredSeq: row.LastDeliveredSeq,
	}
	if row.Role != nil {
		s.Role = query.RoleOf(chat.Role(*row.Role))
	}
	if row.LMID != nil {
		m := query.Message{ID: *row.LMID, ChatID: row.ID, Seq: deref(row.LMSeq), SenderID: deref(row.LMSenderID),
			Content: deref(row.LMContent), ReplyToID: row.LMReplyToID, IdempotencyKey: row.LMIdempotencyKey,
			CreatedAt: deref(row.LMCreatedAt).UTC(), EditedAt: utcPtr(row.LMEditedAt), DeletedAt: utcPtr(row.LMDeletedAt)}.WithEmptyLists()
		s.LastMessage = &m
	}
	return s
}

// Members lists a chat's members in the order they were added.
func (r *ChatReadModel) Members(ctx context.Context, chatID int64) ([]query.Member, error) {
	var rows []memberRow
	err := conn(ctx, r.db).NewSelect().Model(&rows).Where("chat_id = ?", chatID).OrderExpr("join_order").Scan(ctx)
	if err != nil {
		return nil, dbError(err, "list chat members")
	}
	out := make([]query.Member, len(rows))
	for i, row := range rows {
		out[i] = query.MemberOf(row.domain())
	}
	return out, nil
}

// MessageReadModel pages through messages by seq.
type MessageReadModel struct{ db *bun.DB }

// NewMessageReadModel returns a MessageReadModel on db.
func NewMessageReadModel(db *bun.DB) *MessageReadModel {
	mustDB(db, "NewMessageReadModel")
	return &MessageReadModel{db: db}
}

// defaultPageLimit is used when a page asks for no limit.
const defaultPageLimit = 50

// ListMessages reads one row more than the page to learn whether there is more.
func (r *MessageReadModel) ListMessages(ctx context.Context, chatID int64, page query.Page) ([]query.Message, bool, error) {
	limit := page.Limit
	if limit <= 0 {
		limit = defaultPageLimit
	}
	var rows []messageRow
	sel := conn(ctx, r.db).NewSelect().Model(&rows).Where("chat_id = ?", chatID)
	if page.Forward {
		sel = sel.Where("seq > ?", page.AfterSeq).OrderExpr("seq ASC")
	} else {
		if page.BeforeSeq > 0 {
			sel = sel.Where("seq < ?", page.BeforeSeq)
		}
		sel = sel.OrderExpr("seq DESC")
	}
	if err := sel.Limit(int64(limit) + 1).Scan(ctx); err != nil {
		return nil, false, dbError(err, "list messages")
	}
	return r.page(ctx, rows, limit)
}

func (r *MessageReadModel) MessageBySeq(ctx context.Context, chatID, seq int64) (query.Message, error) {
	var row messageRow
	err := conn(ctx, r.db).NewSelect().Model(&row).Where("chat_id = ?", chatID).Where("seq = ?", seq).Scan(ctx)
	if err != nil {
		return query.Message{}, notFound(err, "message %d not found in chat %d", seq, chatID)
	}
	out := []query.Message{query.MessageOf(row.domain())}
	if err := enrichMessages(ctx, conn(ctx, r.db), out); err != nil {
		return query.Message{}, err
	}
	return out[0], nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
