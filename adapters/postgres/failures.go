package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/ports"
)

// FailureLimiter keeps failure counts in the auth_failures table, so every
// instance sees the same counts. Keys are stored as their SHA-256 (no
// emails or addresses at rest in this table).
type FailureLimiter struct {
	db     *bun.DB
	policy ports.BackoffPolicy
	clock  ports.Clock
}

var _ ports.FailureLimiter = (*FailureLimiter)(nil)

// NewFailureLimiter builds a limiter on db with the policy.
func NewFailureLimiter(db *bun.DB, p ports.BackoffPolicy, clock ports.Clock) *FailureLimiter {
	mustDB(db, "NewFailureLimiter")
	return &FailureLimiter{db: db, policy: p, clock: clock}
}

func failureKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func (l *FailureLimiter) Wait(ctx context.Context, key string) (time.Duration, error) {
	var until []time.Time
	err := l.db.NewRaw(`SELECT blocked_until FROM auth_failures WHERE key = ?`, failureKey(key)).Scan(ctx, &until)
	if err != nil && !isNoRows(err) {
		return 0, dbError(err, "read failure count")
	}
	if len(until) == 0 {
		return 0, nil
	}
	return max(until[0].Sub(l.clock.Now()), 0), nil
}

// Fail counts the failure and raises blocked_until in one statement; the
// delay is computed in Go from the count the upsert returns.
func (l *FailureLimiter) Fail(ctx context.Context, key string) (time.Duration, error) {
	now := l.clock.Now()
	k := failureKey(key)
	var failures int
	err := l.db.NewRaw(`INSERT INTO auth_failures AS f (key, failures, last_failure_at, blocked_until)
		VALUES (?, 1, ?, ?)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN f.last_failure_at < ? THEN 1 ELSE f.failures + 1 END,
			last_failure_at = EXCLUDED.last_failure_at
		RETURNING failures`, k, now, now, now.Add(-l.policy.Forget)).Scan(ctx, &failures)
	if err != nil {
		return 0, dbError(err, "count failure")
	}
	d := l.policy.Delay(failures)
	var until time.Time
	err = l.db.NewRaw(`UPDATE auth_failures SET blocked_until = greatest(blocked_until, ?) WHERE key = ? RETURNING blocked_until`,
		now.Add(d), k).Scan(ctx, &until)
	if err != nil {
		return 0, dbError(err, "record backoff")
	}
	return max(until.Sub(now), 0), nil
}

func (l *FailureLimiter) Reset(ctx context.Context, key string) error {
	_, err := l.db.NewRaw(`DELETE FROM auth_failures WHERE key = ?`, failureKey(key)).Exec(ctx)
	return dbError(err, "reset failure count")
}
