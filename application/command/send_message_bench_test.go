package command_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/application/command"
)

// benchChats signs up a workspace of users on a memory app and puts them
// in chats of size members; it returns one sender and its chat per chat.
func benchChats(b *testing.B, app application.App, chats, size int) ([]command.Actor, []int64) {
	b.Helper()
	ctx := context.Background()
	owner, err := app.Commands.SignUp.Handle(ctx, command.SignUp{Email: "owner@bench.test", Password: "correct-horse", Fullname: "Owner", Workspace: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ownerActor := command.Actor{UserID: owner.User.ID, WorkspaceID: owner.Workspace.ID}
	maxUses := chats * size
	inv, err := app.Commands.CreateInvite.Handle(ctx, command.CreateInvite{Actor: ownerActor, MaxUses: &maxUses})
	if err != nil {
		b.Fatal(err)
	}
	var senders []command.Actor
	var ids []int64
	for c := range chats {
		var members []int64
		var first command.Actor
		for m := range size {
			u, err := app.Commands.SignUp.Handle(ctx, command.SignUp{Email: fmt.Sprintf("u%d-%d@bench.test", c, m),
				Password: "correct-horse", Fullname: "User", Workspace: "bench", InviteCode: inv.Code})
			if err != nil {
				b.Fatal(err)
			}
			if m == 0 {
				first = command.Actor{UserID: u.User.ID, WorkspaceID: u.Workspace.ID}
			} else {
				members = append(members, u.User.ID)
			}
		}
		ch, _, err := app.Commands.CreateChat.Handle(ctx, command.CreateChat{Actor: first, Type: "group", Name: "c" + strconv.Itoa(c), MemberIDs: members})
		if err != nil {
			b.Fatal(err)
		}
		senders = append(senders, first)
		ids = append(ids, ch.ID)
	}
	return senders, ids
}

// storeReset is how many sends a fresh memory store takes in the
// benchmarks: the memory adapter copies its state per transaction, so a
// store that grows without end would measure the adapter, not the
// application.
const storeReset = 1000

// BenchmarkSendMessage is the application's send path on the memory
// adapters (validation, idempotency, membership, rate limit, append with
// the outbox event in one transaction): the cost above the database.
func BenchmarkSendMessage(b *testing.B) {
	ctx := context.Background()
	var (
		env     memapp.Env
		senders []command.Actor
		chats   []int64
	)
	b.ReportAllocs()
	for i := range b.N {
		if i%storeReset == 0 {
			b.StopTimer()
			env = memapp.New(memapp.Options{})
			senders, chats = benchChats(b, env.App, 1, 10)
			b.StartTimer()
		}
		_, _, err := env.App.Commands.SendMessage.Handle(ctx, command.SendMessage{Actor: senders[0], ChatID: chats[0],
			Content: "the quick brown fox jumps over the lazy dog", IdempotencyKey: "k" + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendMessageParallel sends from GOMAXPROCS goroutines into 64
// chats: how the application and the memory adapters' locking scale.
// Each round of storeReset sends runs on a fresh store.
func BenchmarkSendMessageParallel(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for done := 0; done < b.N; done += storeReset {
		b.StopTimer()
		env := memapp.New(memapp.Options{})
		senders, chats := benchChats(b, env.App, 64, 2)
		n := int64(min(storeReset, b.N-done))
		var next atomic.Int64
		var wg sync.WaitGroup
		b.StartTimer()
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for i := next.Add(1); i <= n; i = next.Add(1) {
					c := int(i) % len(chats)
					_, _, err := env.App.Commands.SendMessage.Handle(ctx, command.SendMessage{Actor: senders[c], ChatID: chats[c],
						Content: "the quick brown fox jumps over the lazy dog", IdempotencyKey: "k" + strconv.FormatInt(i, 10)})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
