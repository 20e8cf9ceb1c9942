package postgres

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/ports"
)

var _ ports.ProfileRepository = (*ProfileRepository)(nil)

// ProfileRepository writes users.fullname and users.avatar_file_id.
type ProfileRepository struct{ db *bun.DB }

// NewProfileRepository returns a ProfileRepository on db.
func NewProfileRepository(db *bun.DB) *ProfileRepository {
	mustDB(db, "NewProfileRepository")
	return &ProfileRepository{db: db}
}

func (r *ProfileRepository) SetProfile(ctx context.Context, userID int64, fullname string, avatarFileID int64) error {
	res, err := conn(ctx, r.db).NewRaw(`UPDATE users SET fullname = ?, avatar_file_id = NULLIF(?, 0) WHERE id = ?`,
		fullname, avatarFileID, userID).Exec(ctx)
	if err != nil {
		return dbError(err, "save profile")
	}
	return oneRow(res, "user %d not found", userID)
}

func (r *ProfileRepository) Avatars(ctx context.Context, userIDs []int64) (map[int64]int64, error) {
	out := make(map[int64]int64)
	if len(userIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		ID     int64 `bun:"id"`
		Avatar int64 `bun:"avatar_file_id"`
	}
	err := conn(ctx, r.db).NewRaw(`SELECT id, avatar_file_id FROM users WHERE id IN (?) AND avatar_file_id IS NOT NULL`,
		bun.List(userIDs)).Scan(ctx, &rows)
	if err != nil {
		return nil, dbError(err, "load avatars")
	}
	for _, row := range rows {
		out[row.ID] = row.Avatar
	}
	return out, nil
}

func (r *ProfileRepository) ChatsOf(ctx context.Context, userID int64) ([]int64, error) {
	var ids []int64
	err := conn(ctx, r.db).NewRaw(`SELECT chat_id FROM chat_members WHERE user_id = ? ORDER BY chat_id`, userID).Scan(ctx, &ids)
	if err != nil {
		return nil, dbError(err, "list the user's chats")
	}
	return ids, nil
}
