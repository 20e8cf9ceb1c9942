package bootstrap

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/client"
	"github.com/fechatter/fechatter/client/bench"
	"github.com/fechatter/fechatter/ports/porttest"
)

// TestBenchSearchBulkSeed is bench --workload search --seed-bulk against
// a server on a fresh database, the seeder wired to that database as
// --spawn wires it to the spawned server's: every seeded message is
// stored with gapless per-chat seqs, the server indexes every one from
// its message.created event (search finds each chat's count and the
// messages as stored), and the queries are answered while messages flow.
func TestBenchSearchBulkSeed(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	s := startServer(t, "DATABASE_URL="+dsn)
	ctx := context.Background()
	seeder, closeSeeder, err := openBenchSeeder(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSeeder()
	const seeded = 5000
	rep, err := bench.Run(ctx, bench.Config{URL: s.base, Workload: bench.Search, Users: 20, ChatSize: 5, Messages: seeded,
		QueryRate: 10, FlowRate: 10, Duration: 3 * time.Second, Seeder: seeder})
	if err != nil {
		t.Fatalf("run: %v (errors %v, notes %v)", err, rep.Errors, rep.Notes)
	}
	if rep.SeedMode != "bulk" || rep.Messages.Sent != seeded || rep.SeedRatePerSec <= 0 || len(rep.Errors) != 0 {
		t.Fatalf("seed mode %q, %d of %d seeded at %.0f/s, errors %v", rep.SeedMode, rep.Messages.Sent, seeded, rep.SeedRatePerSec, rep.Errors)
	}
	if rep.SearchQuery.Count != 30 || rep.IndexCatchUpSeconds <= 0 {
		t.Fatalf("%d queries answered, want 30; index catch-up %.2fs", rep.SearchQuery.Count, rep.IndexCatchUpSeconds)
	}
	if f := rep.SearchFlow; f == nil || f.Sent != 30 || f.Failed != 0 || f.IndexLag.Count == 0 {
		t.Fatalf("flow during the queries: %+v", f)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), "seeding") {
		t.Fatalf("text report (%v):\n%s", err, text.String())
	}
	run := strings.TrimPrefix(rep.Setup.Workspace, "bench-")

	pg, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	// Per chat: seqs 1..last_seq, none missing or repeated, every sender a
	// member; the seeded ones (key run-i, i < seeded) in the order of i.
	type chatRow struct {
		ChatID   int64
		LastSeq  int64
		Count    int64
		Distinct int64
		MinSeq   int64
		MaxSeq   int64
		Seeded   int64
		Ordered  bool
		Members  bool
		Email    string
	}
	var chats []chatRow
	err = pg.NewRaw(`
		SELECT c.id AS chat_id, c.last_seq, count(m.id) AS count, count(DISTINCT m.seq) AS distinct, min(m.seq) AS min_seq, max(m.seq) AS max_seq,
			count(m.id) FILTER (WHERE split_part(m.idempotency_key, '-', 2)::int < ?) AS seeded,
			coalesce(bool_and(m.seq = x.rank), false) AS ordered,
			bool_and(EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = c.id AND cm.user_id = m.sender_id)) AS members,
			(SELECT min(u.email) FROM chat_members cm JOIN users u ON u.id = cm.user_id WHERE cm.chat_id = c.id) AS email
		FROM chats c JOIN workspaces w ON w.id = c.workspace_id
		JOIN messages m ON m.chat_id = c.id
		LEFT JOIN (SELECT id, row_number() OVER (PARTITION BY chat_id ORDER BY split_part(idempotency_key, '-', 2)::int) AS rank
			FROM messages WHERE split_part(idempotency_key, '-', 2)::int < ?) x ON x.id = m.id
		WHERE w.name = ?
		GROUP BY c.id ORDER BY c.id`, seeded, seeded, rep.Setup.Workspace).Scan(ctx, &chats)
	if err != nil {
		t.Fatal(err)
	}
	if len(chats) != 4 {
		t.Fatalf("%d chats with messages, want 4", len(chats))
	}
	var total int64
	for _, c := range chats {
		if c.Count != c.LastSeq || c.Distinct != c.Count || c.MinSeq != 1 || c.MaxSeq != c.LastSeq || !c.Ordered || !c.Members {
			t.Fatalf("chat %d: %+v", c.ChatID, c)
		}
		total += c.Seeded
	}
	if total != seeded {
		t.Fatalf("%d seeded messages stored, want %d", total, seeded)
	}
	// Search finds them all: each chat's count of the run's tokens (a
	// prefix of every one), and a sample of messages as stored.
	password := "bench-" + run + "-password"
	for _, c := range chats {
		cl, err := client.New(s.base)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.SignIn(ctx, c.Email, password); err != nil {
			t.Fatalf("sign in %s: %v", c.Email, err)
		}
		// (The last messages that flowed during the queries may still be
		// on their way to the index.)
		// A minute: under the race detector with the other packages'
		// tests running, 15 s was not always enough (CI).
		var found int64
		if !porttest.Within(time.Minute, func() bool {
			res, err := cl.Search(ctx, client.SearchQuery{Q: "u" + run + "n", ChatID: c.ChatID, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			found = int64(res.EstimatedTotal)
			return found == c.Count
		}) {
			t.Fatalf("search finds %d of chat %d's %d messages after a minute", found, c.ChatID, c.Count)
		}
		var sample []struct {
			ID       int64
			Seq      int64
			SenderID int64
			Content  string
			Key      string
			At       time.Time
		}
		err = pg.NewRaw(`SELECT id, seq, sender_id, content, idempotency_key AS key, created_at AS at FROM messages
			WHERE chat_id = ? AND seq % 97 = 1 ORDER BY seq`, c.ChatID).Scan(ctx, &sample)
		if err != nil || len(sample) == 0 {
			t.Fatalf("sample of chat %d: %v", c.ChatID, err)
		}
		for _, m := range sample {
			tok := m.Content[strings.LastIndexByte(m.Content, ' ')+1:]
			res, err := cl.Search(ctx, client.SearchQuery{Q: tok, ChatID: c.ChatID, Limit: 5})
			if err != nil {
				t.Fatal(err)
			}
			var hit *client.Message
			for i := range res.Hits {
				if res.Hits[i].Message.ID == m.ID {
					hit = &res.Hits[i].Message
				}
			}
			if hit == nil {
				t.Fatalf("message %d (%q) not found by its token %s: %+v", m.ID, m.Content, tok, res.Hits)
			}
			if hit.Seq != m.Seq || hit.SenderID != m.SenderID || hit.ChatID != c.ChatID || hit.Content != m.Content ||
				!hit.CreatedAt.Equal(m.At) || hit.IdempotencyKey == nil || *hit.IdempotencyKey != m.Key {
				t.Fatalf("message %d as found %+v, as stored %+v", m.ID, *hit, m)
			}
		}
	}
	// The relay published every event and drained the outbox.
	porttest.Eventually(t, 10*time.Second, "the outbox to drain", func() bool {
		var left int
		return pg.NewRaw("SELECT count(*) FROM outbox").Scan(ctx, &left) == nil && left == 0
	})
}

// TestBenchSeedBulkNeedsSpawn: --seed-bulk writes into the spawned
// server's database; without --spawn (or for another workload) it is a
// usage error.
func TestBenchSeedBulkNeedsSpawn(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"bench", "--url", "http://127.0.0.1:1", "--workload", "search", "--seed-bulk"},
		{"bench", "--url", "http://127.0.0.1:1", "--workload", "fanout", "--seed-bulk", "--spawn"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr, nil); code != exitUsage {
			t.Fatalf("%v: exit %d, want %d: %s", args, code, exitUsage, stderr.String())
		}
		if !strings.Contains(stderr.String(), "--seed-bulk") {
			t.Fatalf("%v: %s", args, stderr.String())
		}
	}
}
