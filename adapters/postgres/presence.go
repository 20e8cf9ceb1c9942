package postgres

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.LastSeenRepository = (*LastSeenRepository)(nil)

// LastSeenRepository keeps users' last activity in user_presence.
type LastSeenRepository struct{ db *bun.DB }

// NewLastSeenRepository returns the repository on db.
func NewLastSeenRepository(db *bun.DB) *LastSeenRepository { return &LastSeenRepository{db: db} }

type userPresenceRow struct {
	bun.BaseModel `bun:"table:user_presence,alias:user_presence"`
	UserID        int64     `bun:"user_id,pk"`
	LastSeen      time.Time `bun:"last_seen"`
	Platform      string    `bun:"platform"`
}

// SaveLastSeen upserts the rows in one statement; a stored time is only
// ever moved forward, and an empty platform keeps the stored one.
func (r *LastSeenRepository) SaveLastSeen(ctx context.Context, seen []ports.LastSeen) error {
	if len(seen) == 0 {
		return nil
	}
	// One row per user: Postgres refuses to upsert a row twice in one
	// statement. The latest time wins.
	latest := make(map[int64]int, len(seen))
	rows := make([]userPresenceRow, 0, len(seen))
	for _, s := range seen {
		if s.UserID <= 0 {
			return errs.Invalidf("last seen: user id must be positive")
		}
		row := userPresenceRow{UserID: s.UserID, LastSeen: s.At.UTC(), Platform: s.Platform}
		if i, ok := latest[s.UserID]; ok {
			if row.LastSeen.After(rows[i].LastSeen) {
				rows[i] = row
			}
			continue
		}
		latest[s.UserID] = len(rows)
		rows = append(rows, row)
	}
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), lastSeenChunk)]
		rows = rows[len(chunk):]
		_, err := conn(ctx, r.db).NewInsert().Model(&chunk).
			On("CONFLICT (user_id) DO UPDATE").
			Set("last_seen = EXCLUDED.last_seen").
			Set("platform = CASE WHEN EXCLUDED.platform = '' THEN user_presence.platform ELSE EXCLUDED.platform END").
			Where("user_presence.last_seen < EXCLUDED.last_seen").
			Exec(ctx)
		if err != nil {
			return dbError(err, "save last seen")
		}
	}
	return nil
}

// lastSeenChunk bounds the rows of one upsert: a restart flushing every
// connected user writes them in statements of a sane size.
const lastSeenChunk = 1000

// LastSeen returns the stored rows of userIDs.
func (r *LastSeenRepository) LastSeen(ctx context.Context, userIDs []int64) ([]ports.LastSeen, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	var rows []userPresenceRow
	if err := conn(ctx, r.db).NewSelect().Model(&rows).Where("user_id IN (?)", bun.List(userIDs)).Scan(ctx); err != nil {
		return nil, dbError(err, "load last seen")
	}
	out := make([]ports.LastSeen, len(rows))
	for i, row := range rows {
		out[i] = ports.LastSeen{UserID: row.UserID, At: row.LastSeen.UTC(), Platform: row.Platform}
	}
	return out, nil
}
