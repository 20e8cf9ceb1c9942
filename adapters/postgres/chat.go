package postgres

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.ChatRepository = (*ChatRepository)(nil)

// ChatRepository stores chats in chats, one row per member in chat_members.
type ChatRepository struct {
	db     *bun.DB
	limits chat.Limits
}

// NewChatRepository returns a ChatRepository on db. Loaded chats enforce
// limits, the configured member counts.
func NewChatRepository(db *bun.DB, limits chat.Limits) *ChatRepository {
	mustDB(db, "NewChatRepository")
	return &ChatRepository{db: db, limits: limits}
}

// Create inserts the chat and its members. A direct chat that already
// exists conflicts on its direct_key without aborting the transaction.
func (r *ChatRepository) Create(ctx context.Context, c *chat.Chat) error {
	return inTx(ctx, r.db, func(ctx context.Context) error {
		db := conn(ctx, r.db)
		row := chatRow{WorkspaceID: c.WorkspaceID(), Type: string(c.Type()), Name: c.Name(),
			Description: c.Description(), OwnerID: c.OwnerID(), DirectKey: c.DirectKey(),
			LastSeq: c.LastSeq(), CreatedAt: c.CreatedAt(), UpdatedAt: c.UpdatedAt()}
		res, err := db.NewInsert().Model(&row).
			On("CONFLICT (workspace_id, direct_key) WHERE direct_key IS NOT NULL DO NOTHING").
			Returning("id").Exec(ctx)
		if err != nil {
			return dbError(err, "create chat")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.Conflictf("a direct chat between these users already exists")
		}
		if err := insertMembers(ctx, db, row.ID, c.Members()); err != nil {
			return err
		}
		c.SetID(row.ID)
		return nil
	})
}

func insertMembers(ctx context.Context, db bun.IDB, chatID int64, ms []chat.Membership) error {
	if len(ms) == 0 {
		return nil
	}
	rows := make([]memberRow, len(ms))
	for i, m := range ms {
		rows[i] = memberRow{ChatID: chatID, UserID: m.UserID, Role: string(m.Role), JoinedAt: m.JoinedAt,
			LastDeliveredSeq: m.LastDeliveredSeq, LastReadSeq: m.LastReadSeq}
	}
	if _, err := db.NewInsert().Model(&rows).Exec(ctx); err != nil {
		return dbError(err, "add chat members")
	}
	return nil
}

// Get loads the chat and its members; inside a transaction it locks the
// chat row (FOR UPDATE) so concurrent changes to the chat serialize.
func (r *ChatRepository) Get(ctx context.Context, id int64) (*chat.Chat, error) {
	db := conn(ctx, r.db)
	var row chatRow
	sel := db.NewSelect().Model(&row).Where("id = ?", id)
	if inTxNow(ctx, r.db) {
		sel = sel.For("UPDATE")
	}
	if err := sel.Scan(ctx); err != nil {
		return nil, notFound(err, "chat %d not found", id)
	}
	return r.withMembers(ctx, db, row)
}

func (r *ChatRepository) FindDirect(ctx context.Context, workspaceID int64, key string) (*chat.Chat, error) {
	db := conn(ctx, r.db)
	var row chatRow
	err := db.NewSelect().Model(&row).
		Where("workspace_id = ?", workspaceID).Where("direct_key = ?", key).Scan(ctx)
	if err != nil {
		return nil, notFound(err, "no direct chat %s", key)
	}
	return r.withMembers(ctx, db, row)
}

func (r *ChatRepository) withMembers(ctx context.Context, db bun.IDB, row chatRow) (*chat.Chat, error) {
	var members []memberRow
	err := db.NewSelect().Model(&members).Where("chat_id = ?", row.ID).OrderExpr("join_order").Scan(ctx)
	if err != nil {
		return nil, dbError(err, "load chat members")
	}
	ms := make([]chat.Membership, len(members))
	for i, m := range members {
		ms[i] = m.domain()
	}
	return chat.UnmarshalFromDatabase(row.ID, row.WorkspaceID, chat.Type(row.Type), row.Name, row.Description,
		row.OwnerID, ms, row.LastSeq, utc(row.CreatedAt), utc(row.UpdatedAt), r.limits), nil
}

func (m memberRow) domain() chat.Membership {
	return chat.Membership{UserID: m.UserID, Role: chat.Role(m.Role), JoinedAt: utc(m.JoinedAt),
		LastDeliveredSeq: m.LastDeliveredSeq, LastReadSeq: m.LastReadSeq}
}

func (r *ChatRepository) SaveInfo(ctx context.Context, c *chat.Chat) error {
	res, err := conn(ctx, r.db).NewUpdate().Model((*chatRow)(nil)).
		Set("name = ?", c.Name()).Set("description = ?", c.Description()).
		Set("owner_id = ?", nullInt(c.OwnerID())).Set("updated_at = ?", c.UpdatedAt()).
		Where("id = ?", c.ID()).Exec(ctx)
	if err != nil {
		return dbError(err, "save chat")
	}
	return oneRow(res, "chat %d not found", c.ID())
}

func (r *ChatRepository) AddMembers(ctx context.Context, chatID int64, ms []chat.Membership) error {
	return insertMembers(ctx, conn(ctx, r.db), chatID, ms)
}

func (r *ChatRepository) RemoveMember(ctx context.Context, chatID, userID int64) error {
	res, err := conn(ctx, r.db).NewDelete().Model((*memberRow)(nil)).
		Where("chat_id = ?", chatID).Where("user_id = ?", userID).Exec(ctx)
	if err != nil {
		return dbError(err, "remove chat member")
	}
	return oneRow(res, "user %d is not a member of chat %d", userID, chatID)
}

func (r *ChatRepository) SetRole(ctx context.Context, chatID, userID int64, role chat.Role) error {
	res, err := conn(ctx, r.db).NewUpdate().Model((*memberRow)(nil)).
		Set("role = ?", string(role)).
		Where("chat_id = ?", chatID).Where("user_id = ?", userID).Exec(ctx)
	if err != nil {
		return dbError(err, "set chat member role")
	}
	return oneRow(res, "user %d is not a member of chat %d", userID, chatID)
}

// Delete removes the chat; its members, messages and receipt moves go with
// it (ON DELETE CASCADE).
func (r *ChatRepository) Delete(ctx context.Context, chatID int64) error {
	res, err := conn(ctx, r.db).NewDelete().Model((*chatRow)(nil)).Where("id = ?", chatID).Exec(ctx)
	if err != nil {
		return dbError(err, "delete chat")
	}
	return oneRow(res, "chat %d not found", chatID)
}

func (r *ChatRepository) Membership(ctx context.Context, chatID, userID int64) (chat.Membership, error) {
	var row memberRow
	err := conn(ctx, r.db).NewSelect().Model(&row).
		Where("chat_id = ?", chatID).Where("user_id = ?", userID).Scan(ctx)
	if err != nil {
		return chat.Membership{}, notFound(err, "user %d is not a member of chat %d", userID, chatID)
	}
	return row.domain(), nil
}
