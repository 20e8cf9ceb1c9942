package postgres

import (
	"context"

	"github.com/uptrace/bun"
)

// ConnOf is what the adapter's statements run on under ctx: the
// transaction ctx carries on db, else db.
func ConnOf(ctx context.Context, db *bun.DB) bun.IDB { return conn(ctx, db) }
