package postgres

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.ReactionRepository = (*ReactionRepository)(nil)

// ReactionRepository keeps reactions in message_reactions, one row per
// (message, emoji, user).
type ReactionRepository struct{ db *bun.DB }

// NewReactionRepository returns a ReactionRepository on db.
func NewReactionRepository(db *bun.DB) *ReactionRepository {
	mustDB(db, "NewReactionRepository")
	return &ReactionRepository{db: db}
}

type reactionRow struct {
	MessageID int64  `bun:"message_id"`
	Emoji     string `bun:"emoji"`
	UserID    int64  `bun:"user_id"`
}

// reactionsOrder puts emoji in order of first use (the smallest id of the
// emoji's rows), users in the order they reacted.
const reactionsOrder = `min(id) OVER (PARTITION BY message_id, emoji), id`

func (r *ReactionRepository) Load(ctx context.Context, messageID int64) (*message.Reactions, error) {
	var rows []reactionRow
	err := conn(ctx, r.db).NewRaw(`SELECT message_id, emoji, user_id FROM message_reactions
WHERE message_id = ? ORDER BY `+reactionsOrder, messageID).Scan(ctx, &rows)
	if err != nil {
		return nil, dbError(err, "load reactions")
	}
	return message.NewReactions(groupReactions(rows)[messageID]), nil
}

func groupReactions(rows []reactionRow) map[int64][]message.Reaction {
	out := make(map[int64][]message.Reaction)
	for _, row := range rows {
		list := out[row.MessageID]
		if n := len(list); n > 0 && list[n-1].Emoji == row.Emoji {
			list[n-1].UserIDs = append(list[n-1].UserIDs, row.UserID)
		} else {
			list = append(list, message.Reaction{Emoji: row.Emoji, UserIDs: []int64{row.UserID}})
		}
		out[row.MessageID] = list
	}
	return out
}

func (r *ReactionRepository) Add(ctx context.Context, messageID, userID int64, emoji string) error {
	_, err := conn(ctx, r.db).NewRaw(`INSERT INTO message_reactions (message_id, emoji, user_id)
VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, messageID, emoji, userID).Exec(ctx)
	return dbError(err, "add reaction")
}

func (r *ReactionRepository) Remove(ctx context.Context, messageID, userID int64, emoji string) error {
	_, err := conn(ctx, r.db).NewRaw(`DELETE FROM message_reactions WHERE message_id = ? AND emoji = ? AND user_id = ?`,
		messageID, emoji, userID).Exec(ctx)
	return dbError(err, "remove reaction")
}

func (r *ReactionRepository) RemoveAll(ctx context.Context, messageID int64) error {
	_, err := conn(ctx, r.db).NewRaw(`DELETE FROM message_reactions WHERE message_id = ?`, messageID).Exec(ctx)
	return dbError(err, "remove reactions")
}

// reactionsFor loads the reactions of several messages in one query.
func reactionsFor(ctx context.Context, db bun.IDB, ids []int64) (map[int64][]query.Reaction, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []reactionRow
	err := db.NewRaw(`SELECT message_id, emoji, user_id FROM message_reactions
WHERE message_id IN (?) ORDER BY message_id, `+reactionsOrder, bun.List(ids)).Scan(ctx, &rows)
	if err != nil {
		return nil, dbError(err, "load reactions")
	}
	out := make(map[int64][]query.Reaction)
	for id, list := range groupReactions(rows) {
		out[id] = query.ReactionsOf(list)
	}
	return out, nil
}
