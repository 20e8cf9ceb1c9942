package bootstrap

import (
	"context"
	"strings"
	"testing"

	"github.com/fechatter/fechatter/adapters/bleve"
	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

func TestSearchReindexRebuildsBleveFromPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	env := porttest.Env{Tx: postgres.NewTransactor(db), Workspaces: postgres.NewWorkspaceRepository(db),
		Users: postgres.NewUserRepository(db), Chats: postgres.NewChatRepository(db, chat.DefaultLimits),
		Messages: postgres.NewMessageRepository(db)}
	ws := env.NewWorkspace(t)
	u := env.NewUser(t, ws.ID)
	c := env.NewChat(t, ws.ID, u.ID, chat.PublicChannel, nil, porttest.Now())
	for i := 0; i < 12; i++ {
		env.Send(t, c.ID(), u.ID, "status report number "+strings.Repeat("i", i+1), porttest.Now())
	}
	env.Send(t, c.ID(), u.ID, "the zebra crossing", porttest.Now())

	dir := t.TempDir()
	code, out, errOut := runCLI(t, environ("DATABASE_URL="+dsn, "FECHATTER_SEARCH_DIR="+dir), "--profile", "test", "search", "reindex", "--batch", "5")
	if code != 0 || !strings.Contains(out, "reindexed 13 messages") || !strings.Contains(errOut, "13/13 100.0%") {
		t.Fatalf("reindex: code %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	idx, err := bleve.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	r, err := idx.Search(ctx, ports.SearchQuery{Text: "zebra", ChatIDs: []int64{c.ID()}, Limit: 5})
	if err != nil || len(r.Hits) != 1 || r.Hits[0].Seq != 13 {
		t.Fatalf("search after reindex: %+v %v", r, err)
	}
}
