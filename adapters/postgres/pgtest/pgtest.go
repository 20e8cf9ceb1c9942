// Package pgtest gives tests a fresh, migrated Postgres database of their
// own on the server of DATABASE_URL, dropped when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/adapters/postgres"
)

// DefaultURL is the server used when DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns DATABASE_URL, or DefaultURL when it is not set.
func ServerURL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// DSN creates a database named fechatter_test_<random> on the server,
// migrates it and returns its DSN. The database is dropped (WITH (FORCE),
// so open connections do not keep it) when the test ends. An unreachable
// server fails the test: a database test that skips proves nothing.
func DSN(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	server := ServerURL()
	adminDSN, err := postgres.WithDatabase(server, "postgres")
	if err != nil {
		t.Fatalf("pgtest: DATABASE_URL: %v", err)
	}
	admin, err := postgres.Open(ctx, adminDSN, postgres.WithMaxOpenConns(1), postgres.WithApplicationName("fechatter-pgtest"))
	if err != nil {
		t.Fatalf("pgtest: Postgres is unreachable; start it, or set DATABASE_URL to a server where this user may create databases: %v", err)
	}
	defer admin.Close()

	name := "fechatter_test_" + randomHex(8)
	if _, err := admin.NewRaw("CREATE DATABASE ?", bun.Ident(name)).Exec(ctx); err != nil {
		t.Fatalf("pgtest: create database %s on %s: %v", name, postgres.Redact(adminDSN), err)
	}
	t.Cleanup(func() { drop(t, adminDSN, name) })

	dsn, err := postgres.WithDatabase(server, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	db, err := postgres.Open(ctx, dsn, postgres.WithMaxOpenConns(2))
	if err != nil {
		t.Fatalf("pgtest: open %s: %v", name, err)
	}
	defer db.Close()
	if err := postgres.Migrate(ctx, db); err != nil {
		t.Fatalf("pgtest: migrate %s: %v", name, err)
	}
	return dsn
}

// NewDB returns a handle on a fresh migrated database (see DSN), closed
// before the database is dropped.
func NewDB(t testing.TB, opts ...postgres.Option) *bun.DB {
	t.Helper()
	dsn := DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, dsn, opts...)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() }) // runs before the drop registered by DSN
	return db
}

func drop(t testing.TB, adminDSN, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := postgres.Open(ctx, adminDSN, postgres.WithMaxOpenConns(1), postgres.WithApplicationName("fechatter-pgtest"))
	if err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
		return
	}
	defer admin.Close()
	if _, err := admin.NewRaw("DROP DATABASE IF EXISTS ? WITH (FORCE)", bun.Ident(name)).Exec(ctx); err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}
