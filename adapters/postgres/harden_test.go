package postgres_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/migrations"
	"github.com/fechatter/fechatter/ports"
)

// The owner's index names exist after migrating.
func TestOwnerIndexNames(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	var names []string
	if err := db.NewRaw(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`).Scan(context.Background(), &names); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"idx_messages_chat_created", "idx_chat_members_chat_user", "idx_messages_idempotency"} {
		if !slices.Contains(names, want) {
			t.Errorf("index %s missing; have %v", want, names)
		}
	}
}

// The email folding migration folds what it can and reports collisions
// instead of failing.
func TestEmailFoldingMigrationReportsCollisions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	up, err := migrations.FS.ReadFile("20261202002003_email_folding.tx.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(`DROP TABLE email_collisions`)
	mustExec(`INSERT INTO workspaces (name) VALUES ('fold')`)
	for _, e := range []string{"jos\u00e9@fold.test", "jose\u0301@fold.test", "\uff41\uff42@fold.test", "Solo@Fold.test"} {
		mustExec(`INSERT INTO users (workspace_id, email, fullname, password_hash) SELECT id, ?, 'x', 'x' FROM workspaces WHERE name = 'fold'`, e)
	}
	mustExec(string(up))
	var collided []string
	if err := db.NewRaw(`SELECT email FROM email_collisions ORDER BY email`).Scan(ctx, &collided); err != nil {
		t.Fatal(err)
	}
	if len(collided) != 2 {
		t.Fatalf("collisions %q, want the NFC and NFD josé", collided)
	}
	var emails []string
	if err := db.NewRaw(`SELECT email FROM users ORDER BY email`).Scan(ctx, &emails); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(emails, "ab@fold.test") || !slices.Contains(emails, "solo@fold.test") {
		t.Fatalf("emails after folding: %q", emails)
	}
}

// The Postgres failure limiter and the memory one follow the same policy,
// and two limiters on one database share the counts (two instances).
func TestFailureLimiterIsSharedAndBacksOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	clock := memory.NewFakeClock(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))
	policy := ports.BackoffPolicy{Free: 2, Base: time.Second, Max: 8 * time.Second, Forget: time.Hour}
	for name, pair := range map[string][2]ports.FailureLimiter{
		"postgres": {postgres.NewFailureLimiter(db, policy, clock), postgres.NewFailureLimiter(db, policy, clock)},
		"memory": func() [2]ports.FailureLimiter {
			l := memory.NewFailureLimiter(policy, clock)
			return [2]ports.FailureLimiter{l, l}
		}(),
	} {
		a, b := pair[0], pair[1]
		key := "email:" + name + "@x.test"
		want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
		for i, w := range want {
			l := a
			if i%2 == 1 {
				l = b
			}
			got, err := l.Fail(ctx, key)
			if err != nil || got != w {
				t.Fatalf("%s: failure %d waits %s (%v), want %s", name, i+1, got, err, w)
			}
			if got, _ := b.Wait(ctx, key); got != w {
				t.Fatalf("%s: the other instance sees wait %s, want %s", name, got, w)
			}
		}
		clock.Advance(8 * time.Second)
		if got, _ := a.Wait(ctx, key); got != 0 {
			t.Fatalf("%s: still waiting %s after the backoff", name, got)
		}
		if err := b.Reset(ctx, key); err != nil {
			t.Fatal(err)
		}
		if got, _ := a.Fail(ctx, key); got != 0 {
			t.Fatalf("%s: after a reset the first failure waits %s", name, got)
		}
	}
}
