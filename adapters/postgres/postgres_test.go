package postgres_test

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/application/query/querytest"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/migrations"
	"github.com/fechatter/fechatter/ports/porttest"
)

// TestContracts runs every shared contract suite against one fresh
// database; the suites isolate their cases by unique data.
func TestContracts(t *testing.T) {
	db := pgtest.NewDB(t)
	newEnv := func(*testing.T) porttest.Env { return envOn(db) }
	newQueryEnv := func(*testing.T) querytest.Env {
		return querytest.Env{Env: envOn(db),
			ChatReads: postgres.NewChatReadModel(db), MessageReads: postgres.NewMessageReadModel(db),
			ReceiptReads: postgres.NewReceiptReadModel(db), SearchReads: postgres.NewMessageReadModel(db)}
	}
	t.Run("IdentityRepositories", func(t *testing.T) { t.Parallel(); porttest.RunIdentityRepositories(t, newEnv) })
	t.Run("ChatRepository", func(t *testing.T) { t.Parallel(); porttest.RunChatRepository(t, newEnv) })
	t.Run("MessageRepository", func(t *testing.T) { t.Parallel(); porttest.RunMessageRepository(t, newEnv) })
	t.Run("MessageSender", func(t *testing.T) {
		t.Parallel()
		porttest.RunMessageSender(t, func(t *testing.T) porttest.Env {
			env := envOn(db)
			sender := postgres.NewMessageSender(db, env.Outbox.(*postgres.Outbox), postgres.SenderOptions{})
			t.Cleanup(sender.Close)
			env.Sender = sender
			return env
		})
	})
	t.Run("Outbox", func(t *testing.T) { t.Parallel(); porttest.RunOutbox(t, newEnv) })
	t.Run("Transactor", func(t *testing.T) { t.Parallel(); porttest.RunTransactor(t, newEnv) })
	t.Run("ChatReadModel", func(t *testing.T) { t.Parallel(); querytest.RunChatReadModel(t, newQueryEnv) })
	t.Run("MessageReadModel", func(t *testing.T) { t.Parallel(); querytest.RunMessageReadModel(t, newQueryEnv) })
	t.Run("ReceiptRepository", func(t *testing.T) { t.Parallel(); porttest.RunReceiptRepository(t, newEnv) })
	t.Run("ReceiptReadModel", func(t *testing.T) { t.Parallel(); querytest.RunReceiptReadModel(t, newQueryEnv) })
	t.Run("SearchReadModels", func(t *testing.T) { t.Parallel(); querytest.RunSearchReadModels(t, newQueryEnv) })
	withSender := func(t *testing.T) querytest.Env {
		env := newQueryEnv(t)
		sender := postgres.NewMessageSender(db, env.Outbox.(*postgres.Outbox), postgres.SenderOptions{})
		t.Cleanup(sender.Close)
		env.Sender, env.Threads, env.ThreadReads = sender, postgres.NewThreadRepository(db), postgres.NewMessageReadModel(db)
		env.Files, env.Documents, env.Profiles = postgres.NewFileRepository(db), postgres.NewMessageReadModel(db), postgres.NewProfileRepository(db)
		return env
	}
	t.Run("ThreadsAndMentions", func(t *testing.T) { t.Parallel(); querytest.RunThreadsAndMentions(t, withSender) })
	t.Run("SearchDocuments", func(t *testing.T) { t.Parallel(); querytest.RunSearchDocuments(t, withSender) })
}

// envOn builds fresh adapters over db; a fresh Outbox per case keeps the
// Notify signals of parallel cases apart.
func envOn(db *bun.DB) porttest.Env {
	outbox := postgres.NewOutbox(db)
	return porttest.Env{
		Tx:          postgres.NewTransactor(db),
		Workspaces:  postgres.NewWorkspaceRepository(db),
		Users:       postgres.NewUserRepository(db),
		Invites:     postgres.NewInviteRepository(db),
		Tokens:      postgres.NewRefreshTokenRepository(db),
		Chats:       postgres.NewChatRepository(db, chat.DefaultLimits),
		Messages:    postgres.NewMessageRepository(db),
		Outbox:      outbox,
		OutboxStore: outbox,
		Receipts:    postgres.NewReceiptRepository(db),
	}
}

func TestMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t) // migrated up once already

	tables := func() []string {
		t.Helper()
		var names []string
		err := db.NewRaw(`SELECT table_name FROM information_schema.tables
			WHERE table_schema = 'public' AND table_name NOT LIKE 'bun_%' ORDER BY table_name`).Scan(ctx, &names)
		if err != nil {
			t.Fatalf("list tables: %v", err)
		}
		return names
	}
	want := []string{"auth_failures", "chat_members", "chats", "email_collisions", "files", "invites", "message_reactions", "messages", "outbox", "receipt_moves",
		"refresh_tokens", "user_presence", "users", "workspace_storage", "workspaces"}
	if got := tables(); !slices.Equal(got, want) {
		t.Fatalf("tables after migrate = %v; want %v", got, want)
	}
	checkAllApplied(t, db, true)

	// Up again is a no-op.
	if err := postgres.Migrate(ctx, db); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}

	rolled, err := postgres.Rollback(ctx, db)
	if err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	ups, _ := fs.Glob(migrations.FS, "*.up.sql")
	if len(rolled) != len(ups) || rolled[0] != strings.TrimSuffix(strings.TrimSuffix(ups[len(ups)-1], ".up.sql"), ".tx") {
		t.Fatalf("Rollback undid %v; want all %d migrations, latest first", rolled, len(ups))
	}
	if got := tables(); len(got) != 0 {
		t.Fatalf("tables left after rollback: %v", got)
	}
	checkAllApplied(t, db, false)

	if err := postgres.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate after rollback: %v", err)
	}
	if got := tables(); !slices.Equal(got, want) {
		t.Fatalf("tables after migrating again = %v; want %v", got, want)
	}
	checkAllApplied(t, db, true)
}

func checkAllApplied(t *testing.T, db *bun.DB, applied bool) {
	t.Helper()
	st, err := postgres.Status(context.Background(), db)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	ups, _ := fs.Glob(migrations.FS, "*.up.sql")
	if len(st) != len(ups) {
		t.Fatalf("Status lists %d migrations; want %d", len(st), len(ups))
	}
	for _, m := range st {
		if m.Applied != applied {
			t.Fatalf("migration %s applied = %v; want %v", m.Name, m.Applied, applied)
		}
	}
}

func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	// Rolled back first so the racers have work to do.
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if _, err := postgres.Rollback(ctx, db); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	var wg sync.WaitGroup
	fails := make([]error, 4)
	for i := range fails {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := postgres.Open(ctx, dsn)
			if err != nil {
				fails[i] = err
				return
			}
			defer db.Close()
			fails[i] = postgres.Migrate(ctx, db)
		}()
	}
	wg.Wait()
	for _, err := range fails {
		if err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
	checkAllApplied(t, db, true)
}

func TestMigrateClearsStaleLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	// What a migrator killed while holding bun's lock leaves behind.
	if _, err := db.NewRaw(`INSERT INTO bun_migration_locks (table_name) VALUES ('bun_migrations')`).Exec(ctx); err != nil {
		t.Fatalf("insert stale lock: %v", err)
	}
	if err := postgres.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate with a stale lock: %v", err)
	}
	var n int
	if err := db.NewRaw(`SELECT count(*) FROM bun_migration_locks`).Scan(ctx, &n); err != nil || n != 0 {
		t.Fatalf("locks left = %d, %v; want 0", n, err)
	}
}

func TestEnsureDatabase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := pgtest.ServerURL()
	name := porttest.Unique("fechatter_test_ensure_")
	dsn, err := postgres.WithDatabase(server, name)
	if err != nil {
		t.Fatalf("WithDatabase: %v", err)
	}
	admin, err := postgres.Open(ctx, mustWithDatabase(t, server, "postgres"))
	if err != nil {
		t.Fatalf("Open admin: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.NewRaw("DROP DATABASE IF EXISTS ? WITH (FORCE)", bun.Ident(name)).Exec(context.Background()); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})

	if _, err := postgres.Open(ctx, dsn); err == nil {
		t.Fatalf("Open of %s worked before EnsureDatabase", name)
	}
	// Several processes starting at once all succeed.
	var wg sync.WaitGroup
	fails := make([]error, 5)
	for i := range fails {
		wg.Add(1)
		go func() { defer wg.Done(); fails[i] = postgres.EnsureDatabase(ctx, dsn) }()
	}
	wg.Wait()
	for _, err := range fails {
		if err != nil {
			t.Fatalf("EnsureDatabase: %v", err)
		}
	}
	if err := postgres.EnsureDatabase(ctx, dsn); err != nil {
		t.Fatalf("EnsureDatabase of an existing database: %v", err)
	}
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open after EnsureDatabase: %v", err)
	}
	_ = db.Close()
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://postgres:secret@127.0.0.1:1/nope?sslmode=disable")
	if err == nil {
		t.Fatalf("Open of a closed port worked")
	}
	if s := err.Error(); strings.Contains(s, "secret") {
		t.Fatalf("error shows the password: %s", s)
	}
}

func mustWithDatabase(t *testing.T, dsn, name string) string {
	t.Helper()
	out, err := postgres.WithDatabase(dsn, name)
	if err != nil {
		t.Fatalf("WithDatabase: %v", err)
	}
	return out
}

func TestOpenBadDSN(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{"mysql://x@localhost/db", "postgres://x@localhost/db?sslmode=bogus", "::"} {
		if _, err := postgres.Open(context.Background(), dsn); err == nil {
			t.Errorf("Open(%q) worked", dsn)
		}
	}
}
