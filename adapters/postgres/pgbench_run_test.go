package postgres_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
)

// The pgbench scripts run on a migrated database with pgbench/setup.sql:
// each stores its messages (one, or ten) and their outbox events. The
// pgbench variables are given fixed values: chat c, sender its first member.
func TestPgbenchScriptsRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	setup, err := os.ReadFile("pgbench/setup.sql")
	if err != nil {
		t.Fatal(err)
	}
	// VACUUM cannot run in the implicit transaction of a multi-statement query.
	if _, err := db.ExecContext(ctx, strings.Replace(string(setup), "VACUUM ANALYZE;", "", 1)); err != nil {
		t.Fatalf("setup.sql: %v", err)
	}
	variable := regexp.MustCompile(`:([cu])(\d+)`)
	for _, tc := range []struct {
		file string
		sent int
	}{{"pgbench/send1.sql", 1}, {"pgbench/send10.sql", 10}} {
		b, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		var sql []string
		for _, line := range strings.Split(string(b), "\n") {
			if line == "" || strings.HasPrefix(line, "--") || strings.HasPrefix(line, `\set`) {
				continue
			}
			sql = append(sql, variable.ReplaceAllStringFunc(line, func(v string) string {
				m := variable.FindStringSubmatch(v)
				if m[1] == "c" {
					return m[2] // chat i
				}
				return fmt.Sprintf("(%s - 1) * 10 + 1", m[2]) // its first member
			}))
		}
		var before, events int
		if err := db.NewRaw(`SELECT count(*) FROM messages`).Scan(ctx, &before); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, strings.Join(sql, "\n")); err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		var after int
		if err := db.NewRaw(`SELECT count(*) FROM messages`).Scan(ctx, &after); err != nil {
			t.Fatal(err)
		}
		if err := db.NewRaw(`SELECT count(*) FROM outbox`).Scan(ctx, &events); err != nil {
			t.Fatal(err)
		}
		if after-before != tc.sent {
			t.Fatalf("%s stored %d messages, want %d", tc.file, after-before, tc.sent)
		}
		if events != after {
			t.Fatalf("%s: %d outbox events for %d messages", tc.file, events, after)
		}
	}
}
