package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/fechatter/fechatter/migrations"
)

// migrationLockKey is the advisory lock that serializes migrators across
// processes (an arbitrary constant: "fechattr" in ASCII).
const migrationLockKey int64 = 0x6665636861747472

func newMigrator(db *bun.DB) *migrate.Migrator {
	// Marking a migration applied only once it succeeded lets a failed one
	// run again after the fix; each file runs in its own transaction.
	return migrate.NewMigrator(db, migrations.New(), migrate.WithMarkAppliedOnSuccess(true))
}

// Migrate applies every migration not applied yet. Concurrent callers (server
// instances starting together) wait for each other.
func Migrate(ctx context.Context, db *bun.DB) error {
	return withMigrationLock(ctx, db, func(m *migrate.Migrator) error {
		if _, err := m.Migrate(ctx); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
		return nil
	})
}

// Rollback undoes the last group of migrations applied together and returns
// their names, latest first.
func Rollback(ctx context.Context, db *bun.DB) ([]string, error) {
	var names []string
	err := withMigrationLock(ctx, db, func(m *migrate.Migrator) error {
		group, err := m.Rollback(ctx)
		if group != nil {
			for i := len(group.Migrations) - 1; i >= 0; i-- {
				names = append(names, group.Migrations[i].String())
			}
		}
		if err != nil {
			return fmt.Errorf("postgres: rollback: %w", err)
		}
		return nil
	})
	return names, err
}

// MigrationStatus is one migration and whether it is applied.
type MigrationStatus struct {
	Name       string // id_comment, e.g. 20261125000001_identity
	Applied    bool
	GroupID    int64
	MigratedAt time.Time
}

// Status lists every known migration, oldest first.
func Status(ctx context.Context, db *bun.DB) ([]MigrationStatus, error) {
	m := newMigrator(db)
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("postgres: migration status: %w", err)
	}
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migration status: %w", err)
	}
	out := make([]MigrationStatus, len(ms))
	for i, mg := range ms {
		out[i] = MigrationStatus{Name: mg.String(), Applied: mg.IsApplied(), GroupID: mg.GroupID, MigratedAt: mg.MigratedAt}
	}
	return out, nil
}

// withMigrationLock runs fn holding both a Postgres advisory lock and bun's
// migration lock. The advisory lock makes waiting possible (bun's lock fails
// at once when taken) and is released by Postgres if the process dies, so a
// bun lock row found while holding it was left by a crashed migrator and is
// cleared.
func withMigrationLock(ctx context.Context, db *bun.DB, fn func(*migrate.Migrator) error) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer conn.Close()
	for {
		var got bool
		if err := conn.NewRaw("SELECT pg_try_advisory_lock(?)", migrationLockKey).Scan(ctx, &got); err != nil {
			return fmt.Errorf("postgres: migration lock: %w", err)
		}
		if got {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres: waiting for another migrator: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer func() {
		// A fresh context: the lock must go even when ctx was cancelled.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.NewRaw("SELECT pg_advisory_unlock(?)", migrationLockKey).Exec(uctx); uerr != nil {
			// Discard the connection instead: closing it releases the lock.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()

	m := newMigrator(db)
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("postgres: init migrations: %w", err)
	}
	if err := m.Lock(ctx); err != nil {
		// We hold the advisory lock, so nobody else is migrating: the row is stale.
		if uerr := m.Unlock(ctx); uerr != nil {
			return fmt.Errorf("postgres: clear stale migration lock: %w", uerr)
		}
		if err := m.Lock(ctx); err != nil {
			return fmt.Errorf("postgres: migration lock: %w", err)
		}
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if uerr := m.Unlock(uctx); uerr != nil {
			err = errors.Join(err, fmt.Errorf("postgres: migration unlock: %w", uerr))
		}
	}()
	return fn(m)
}
