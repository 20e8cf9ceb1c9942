package deploy

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type message struct {
	ID      int64  `json:"id"`
	Seq     int64  `json:"seq"`
	Content string `json:"content"`
}

type history struct {
	Messages []message `json:"messages"`
}

type searchHits struct {
	Hits []struct {
		Message message `json:"message"`
	} `json:"hits"`
}

func psql(t *testing.T, sql string) {
	t.Helper()
	if out, err := exec.Command("psql", databaseURL("postgres"), "-v", "ON_ERROR_STOP=1", "-qc", sql).CombinedOutput(); err != nil {
		t.Fatalf("psql %q: %v: %s", sql, err, out)
	}
}

// TestBackupRestoreReindex is the README's backup procedure for real: a
// server's database dumped with pg_dump while it runs, restored with
// pg_restore into a fresh database, the search index rebuilt with
// `fechatter search reindex` into an empty data directory, and a server
// started on the restored database serves the same history and finds every
// message by search.
func TestBackupRestoreReindex(t *testing.T) {
	for _, tool := range []string{"pg_dump", "pg_restore", "psql"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (Debian: postgresql-client): %v", tool, err)
		}
	}
	src := fmt.Sprintf("fechatter_deploy_backup_src_%d", os.Getpid())
	dst := fmt.Sprintf("fechatter_deploy_backup_dst_%d", os.Getpid())
	dropDatabase(t, src)
	dropDatabase(t, dst)
	a := startServer(t, "DATABASE_URL="+databaseURL(src), "FECHATTER_SEARCH_BATCH_TIMEOUT=50ms")

	const email, password, n = "alice@backup.test", "correct-horse-battery", 12 // n: len(words)
	var alice session
	if code := a.call(t, "POST", "/auth/signup", "", map[string]string{
		"email": email, "password": password, "fullname": "Alice", "workspace": "Backup",
	}, &alice); code != 201 && code != 200 {
		t.Fatalf("signup = %d", code)
	}
	var chat struct {
		ID int64 `json:"id"`
	}
	if code := a.call(t, "POST", "/chats", alice.AccessToken, map[string]any{"type": "public_channel", "name": "general"}, &chat); code != 201 {
		t.Fatalf("create chat = %d", code)
	}
	words := []string{"kumquat", "zeppelin", "marmalade", "quasar", "tundra", "saxophone",
		"obsidian", "walrus", "gazebo", "nectarine", "typhoon", "lighthouse"}
	word := func(i int) string { return words[i] }
	for i := range n {
		if code := a.call(t, "POST", fmt.Sprintf("/chats/%d/messages", chat.ID), alice.AccessToken,
			map[string]string{"content": "before the backup: " + word(i), "idempotency_key": fmt.Sprintf("b-%d", i)}, nil); code != 201 {
			t.Fatalf("send %d = %d", i, code)
		}
	}
	historyPath := fmt.Sprintf("/chats/%d/messages?limit=100", chat.ID)
	var before history
	if code := a.call(t, "GET", historyPath, alice.AccessToken, nil, &before); code != 200 || len(before.Messages) != n {
		t.Fatalf("history = %d with %d messages, want %d", code, len(before.Messages), n)
	}

	// Back up while the server runs, as the README says.
	dump := filepath.Join(t.TempDir(), "fechatter.dump")
	if out, err := exec.Command("pg_dump", "--format=custom", "--file="+dump, databaseURL(src)).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v: %s", err, out)
	}
	a.stop(t)

	psql(t, "CREATE DATABASE "+dst)
	if out, err := exec.Command("pg_restore", "--no-owner", "--exit-on-error", "--dbname="+databaseURL(dst), dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v: %s", err, out)
	}

	// A new machine: an empty data directory (no search index, no NATS
	// store), the index rebuilt from the restored database.
	data := t.TempDir()
	env := []string{"DATABASE_URL=" + databaseURL(dst), "FECHATTER_DATA_DIR=" + data, "FECHATTER_SEARCH_BATCH_TIMEOUT=50ms"}
	reindex := exec.Command(serverBinary(t), "search", "reindex", "--profile", "test")
	reindex.Env = append(os.Environ(), env...)
	out, err := reindex.Output()
	if err != nil {
		t.Fatalf("fechatter search reindex: %v: %s", err, out)
	}
	if !strings.HasPrefix(string(out), fmt.Sprintf("reindexed %d messages into bleve", n)) {
		t.Fatalf("fechatter search reindex printed %q, want %d messages reindexed", out, n)
	}

	b := startServer(t, env...)
	var again session
	if code := b.call(t, "POST", "/auth/signin", "", map[string]string{"email": email, "password": password}, &again); code != 200 {
		t.Fatalf("sign in on the restored database = %d", code)
	}
	var after history
	if code := b.call(t, "GET", historyPath, again.AccessToken, nil, &after); code != 200 {
		t.Fatalf("history after restore = %d", code)
	}
	if fmt.Sprint(after.Messages) != fmt.Sprint(before.Messages) {
		t.Errorf("history after restore:\n%v\nwant\n%v", after.Messages, before.Messages)
	}
	for i := range n {
		var res searchHits
		q := url.Values{"q": {word(i)}}
		b.call(t, "GET", "/search/messages?"+q.Encode(), again.AccessToken, nil, &res)
		if len(res.Hits) == 0 || res.Hits[0].Message != before.Messages[n-1-i] {
			t.Errorf("search %q after restore and reindex: %v, want %v first", word(i), res.Hits, before.Messages[n-1-i])
		}
	}
	// A message sent after the restore is indexed by the running server as
	// usual.
	if code := b.call(t, "POST", fmt.Sprintf("/chats/%d/messages", chat.ID), again.AccessToken,
		map[string]string{"content": "after the restore: rhubarb", "idempotency_key": "after-1"}, nil); code != 201 {
		t.Fatalf("send after restore = %d", code)
	}
	waitFor(t, 20*time.Second, "the new message found by search", func() bool {
		var res searchHits
		b.call(t, "GET", "/search/messages?q=rhubarb", again.AccessToken, nil, &res)
		return len(res.Hits) > 0 && strings.HasSuffix(res.Hits[0].Message.Content, "rhubarb")
	})
}
