package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// Hundreds of concurrent sends through the send command and the
// group-commit writer, against real Postgres: repeated keys (the same
// content, and another content), non-members, too-long content and NUL.
// Every chat's seqs run 1..N without a gap, each key holds one message,
// every caller gets its own message or its own error, the outbox holds
// exactly one event per stored message, and nothing was written for the
// rejected sends.
func TestSendCommandUnderConcurrentLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	db.SetMaxOpenConns(8)
	env := envOn(db)
	sender := postgres.NewMessageSender(db, env.Outbox.(*postgres.Outbox), postgres.SenderOptions{Writers: 2, MaxBatch: 64})
	t.Cleanup(sender.Close)
	clock := memory.SystemClock{}
	send := command.NewSendMessageHandler(sender, env.Messages, clock, memory.NewRateLimiter(1_000_000, time.Second, clock))

	ws := env.NewWorkspace(t)
	users := env.NewUsers(t, ws.ID, 8)
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	outsider := ids[7]
	chats := make([]*chat.Chat, 4)
	for i := range chats {
		chats[i] = env.NewChat(t, ws.ID, ids[0], chat.Group, ids[1:7], time.Now())
	}

	type outcome struct {
		cmd    command.SendMessage
		msg    query.Message
		replay bool
		err    error
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
	)
	fire := func(cmd command.SendMessage) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg, replay, err := send.Handle(ctx, cmd)
			mu.Lock()
			outcomes = append(outcomes, outcome{cmd, msg, replay, err})
			mu.Unlock()
		}()
	}
	const plain, keyed = 240, 60
	for i := range plain {
		c := chats[i%len(chats)]
		u := ids[i%7]
		fire(command.SendMessage{Actor: command.Actor{UserID: u, WorkspaceID: ws.ID}, ChatID: c.ID(), Content: fmt.Sprintf("plain %d", i)})
	}
	for i := range keyed { // each key three times with its content, once with another
		c := chats[i%len(chats)]
		u := ids[i%7]
		key := fmt.Sprintf("key-%d", i)
		for r := range 4 {
			content := "keyed " + key
			if r == 3 {
				content = "not the same " + key
			}
			fire(command.SendMessage{Actor: command.Actor{UserID: u, WorkspaceID: ws.ID}, ChatID: c.ID(), Content: content, IdempotencyKey: key})
		}
	}
	for i := range 30 {
		c := chats[i%len(chats)]
		fire(command.SendMessage{Actor: command.Actor{UserID: outsider, WorkspaceID: ws.ID}, ChatID: c.ID(), Content: "let me in", IdempotencyKey: fmt.Sprintf("out-%d", i)})
		fire(command.SendMessage{Actor: command.Actor{UserID: ids[1], WorkspaceID: ws.ID}, ChatID: c.ID(), Content: strings.Repeat("x", 4001)})
		fire(command.SendMessage{Actor: command.Actor{UserID: ids[2], WorkspaceID: ws.ID}, ChatID: c.ID(), Content: "nul \x00 here"})
	}
	wg.Wait()

	stored := map[int64]query.Message{} // by id
	perKey := map[string]map[int64]bool{}
	conflicts := map[string][]string{} // key -> contents answered 409
	for _, o := range outcomes {
		switch {
		case o.cmd.Actor.UserID == outsider:
			if !errs.Is(o.err, errs.NotFound) {
				t.Fatalf("non-member answered %+v, %v; want NotFound", o.msg, o.err)
			}
		case len(o.cmd.Content) > 4000 || strings.Contains(o.cmd.Content, "\x00"):
			if !errs.Is(o.err, errs.Invalid) {
				t.Fatalf("bad content answered %v; want Invalid", o.err)
			}
		case o.err != nil:
			if o.cmd.IdempotencyKey != "" && errs.Is(o.err, errs.Conflict) {
				conflicts[o.cmd.IdempotencyKey] = append(conflicts[o.cmd.IdempotencyKey], o.cmd.Content)
				continue // another content won the key: 409
			}
			t.Fatalf("send %+v failed: %v", o.cmd, o.err)
		default:
			m := o.msg
			if m.ChatID != o.cmd.ChatID || m.SenderID != o.cmd.Actor.UserID || m.ID <= 0 || m.Seq <= 0 {
				t.Fatalf("send %+v answered someone else's message %+v", o.cmd, m)
			}
			if k := o.cmd.IdempotencyKey; k != "" {
				if perKey[k] == nil {
					perKey[k] = map[int64]bool{}
				}
				perKey[k][m.ID] = true
			}
			if m.Content != o.cmd.Content {
				t.Fatalf("send %q answered %q", o.cmd.Content, m.Content)
			}
			stored[m.ID] = m
		}
	}
	for k, msgs := range perKey {
		if len(msgs) != 1 {
			t.Fatalf("key %s answered %d different messages", k, len(msgs))
		}
		for id := range msgs {
			for _, c := range conflicts[k] {
				if c == stored[id].Content {
					t.Fatalf("key %s: content %q answered 409 though it is the stored one", k, c)
				}
			}
			if n := len(conflicts[k]); n != 1 && n != 3 {
				t.Fatalf("key %s: %d conflicts, want 1 (the other content) or 3 (it won)", k, n)
			}
		}
	}
	if len(perKey) != keyed {
		t.Fatalf("%d keys answered with a message, want %d", len(perKey), keyed)
	}
	if want := plain + keyed; len(stored) != want {
		t.Fatalf("%d distinct messages answered, want %d", len(stored), want)
	}
	total := 0
	for _, c := range chats {
		var seqs []int64
		if err := db.NewRaw(`SELECT seq FROM messages WHERE chat_id = ? ORDER BY seq`, c.ID()).Scan(ctx, &seqs); err != nil {
			t.Fatal(err)
		}
		for i, s := range seqs {
			if s != int64(i+1) {
				t.Fatalf("chat %d seqs %v: a gap at %d", c.ID(), seqs, i+1)
			}
		}
		if last := env.MustGetChat(t, c.ID()).LastSeq(); last != int64(len(seqs)) {
			t.Fatalf("chat %d last_seq %d with %d messages", c.ID(), last, len(seqs))
		}
		total += len(seqs)
	}
	if total != len(stored) {
		t.Fatalf("%d messages stored, %d answered: something was written for a rejected send", total, len(stored))
	}
	var events int
	if err := db.NewRaw(`SELECT count(*) FROM outbox WHERE type = ?`, ports.EventMessageCreated).Scan(ctx, &events); err != nil {
		t.Fatal(err)
	}
	if events != total {
		t.Fatalf("outbox holds %d message.created events for %d messages", events, total)
	}
}

// A sender closed while sends are queued writes them before Close returns
// and refuses later ones as unavailable.
func TestMessageSenderCloseWritesWhatIsQueued(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	env := envOn(db)
	sender := postgres.NewMessageSender(db, env.Outbox.(*postgres.Outbox), postgres.SenderOptions{Writers: 1})
	clock := memory.SystemClock{}
	send := command.NewSendMessageHandler(sender, env.Messages, clock, memory.NewRateLimiter(1_000_000, time.Second, clock))
	ws := env.NewWorkspace(t)
	users := env.NewUsers(t, ws.ID, 2)
	c := env.NewChat(t, ws.ID, users[0].ID, chat.Group, []int64{users[1].ID}, time.Now())
	var wg sync.WaitGroup
	errsSeen := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := send.Handle(ctx, command.SendMessage{Actor: command.Actor{UserID: users[i%2].ID, WorkspaceID: ws.ID},
				ChatID: c.ID(), Content: fmt.Sprintf("m%d", i)})
			errsSeen <- err
		}()
	}
	sender.Close()
	wg.Wait()
	close(errsSeen)
	ok := 0
	for err := range errsSeen {
		switch {
		case err == nil:
			ok++
		case !errs.Is(err, errs.Unavailable):
			t.Fatalf("send during Close: %v; want success or unavailable", err)
		}
	}
	if last := env.MustGetChat(t, c.ID()).LastSeq(); last != int64(ok) {
		t.Fatalf("%d sends answered ok, chat holds %d", ok, last)
	}
	if _, _, err := send.Handle(ctx, command.SendMessage{Actor: command.Actor{UserID: users[0].ID, WorkspaceID: ws.ID},
		ChatID: c.ID(), Content: "late"}); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("send after Close: %v; want unavailable", err)
	}
}

// Sends made while the database refuses connections (a restart, a
// failover) wait for it and succeed when it is back, rather than fail.
func TestMessageSenderHoldsSendsWhileTheDatabaseIsAway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	env := envOn(db)
	sender := postgres.NewMessageSender(db, env.Outbox.(*postgres.Outbox), postgres.SenderOptions{Hold: time.Minute})
	t.Cleanup(sender.Close)
	clock := memory.SystemClock{}
	send := command.NewSendMessageHandler(sender, env.Messages, clock, memory.NewRateLimiter(1_000_000, time.Second, clock))
	ws := env.NewWorkspace(t)
	users := env.NewUsers(t, ws.ID, 2)
	c := env.NewChat(t, ws.ID, users[0].ID, chat.Group, []int64{users[1].ID}, time.Now())

	var name string
	if err := db.NewRaw("SELECT current_database()").Scan(ctx, &name); err != nil {
		t.Fatal(err)
	}
	adminDSN, err := postgres.WithDatabase(pgtest.ServerURL(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := postgres.Open(ctx, adminDSN, postgres.WithMaxOpenConns(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	allow := func(on bool) {
		t.Helper()
		if _, err := admin.ExecContext(ctx, fmt.Sprintf("ALTER DATABASE %q ALLOW_CONNECTIONS %t", name, on)); err != nil {
			t.Fatal(err)
		}
	}
	// The database goes away: no new connections, the open ones killed.
	allow(false)
	t.Cleanup(func() { allow(true) })
	if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ?`, name); err != nil {
		t.Fatal(err)
	}
	const n = 40
	answers := make(chan error, n)
	for i := range n {
		go func() {
			_, _, err := send.Handle(ctx, command.SendMessage{Actor: command.Actor{UserID: users[i%2].ID, WorkspaceID: ws.ID},
				ChatID: c.ID(), Content: fmt.Sprintf("while away %d", i), IdempotencyKey: fmt.Sprintf("away-%d", i)})
			answers <- err
		}()
	}
	// The outage lasts a while: the sends are being held, not answered.
	select {
	case err := <-answers:
		t.Fatalf("a send was answered while the database was away: %v", err)
	case <-time.After(time.Second):
	}
	allow(true)
	for range n {
		if err := <-answers; err != nil {
			t.Fatalf("a send held through the outage failed: %v", err)
		}
	}
	if last := env.MustGetChat(t, c.ID()).LastSeq(); last != n {
		t.Fatalf("chat holds %d messages after the outage, want %d", last, n)
	}
}
