package event_test

import (
	"context"
	"testing"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/ports"
)

func TestReindexRebuildsTheIndexFromStorage(t *testing.T) {
	ctx := context.Background()
	env := memapp.New(memapp.Options{})
	res, err := env.App.Commands.SignUp.Handle(ctx, command.SignUp{Email: "a@x.test", Password: "password123", Fullname: "A", Workspace: "W"})
	if err != nil {
		t.Fatal(err)
	}
	actor := command.Actor{UserID: res.User.ID, WorkspaceID: res.User.WorkspaceID}
	c, _, err := env.App.Commands.CreateChat.Handle(ctx, command.CreateChat{Actor: actor, Type: "public_channel", Name: "news"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 23; i++ {
		content := "routine update"
		if i == 7 {
			content = "the quarterly numbers are in"
		}
		if _, _, err := env.App.Commands.SendMessage.Handle(ctx, command.SendMessage{Actor: actor, ChatID: c.ID, Content: content}); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.App.Commands.DeleteMessage.Handle(ctx, command.DeleteMessage{Actor: actor, ChatID: c.ID, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	index := memory.NewSearchIndex()
	var calls, lastDone, lastTotal int
	n, err := event.Reindex(ctx, env.Store.MessageReadModel(), index, 5, func(done, total int) { calls, lastDone, lastTotal = calls+1, done, total })
	if err != nil {
		t.Fatal(err)
	}
	if n != 22 || lastDone != 22 || lastTotal != 22 || calls != 5 {
		t.Fatalf("reindexed %d (progress %d/%d in %d calls), want 22 live messages in 5 batches", n, lastDone, lastTotal, calls)
	}
	hits, err := index.Search(ctx, ports.SearchQuery{Text: "quarterly", ChatIDs: []int64{c.ID}, Limit: 10})
	if err != nil || len(hits.Hits) != 1 || hits.Hits[0].Seq != 8 {
		t.Fatalf("search after reindex: %+v %v", hits, err)
	}
	all, _ := index.Search(ctx, ports.SearchQuery{Text: "routine", ChatIDs: []int64{c.ID}, Limit: 100})
	if len(all.Hits) != 21 { // 22 routine updates less the deleted one
		t.Errorf("%d routine hits, want 21", len(all.Hits))
	}
}
