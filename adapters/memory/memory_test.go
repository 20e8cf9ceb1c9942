package memory_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/application/query/querytest"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

func newEnv(*testing.T) porttest.Env {
	s := memory.NewStore()
	return envOf(s)
}

func envOf(s *memory.Store) porttest.Env {
	return porttest.Env{Tx: s, Workspaces: s.Workspaces(), Users: s.Users(), Invites: s.Invites(),
		Tokens: s.RefreshTokens(), Chats: s.Chats(), Messages: s.Messages(), Sender: s.Messages(), Outbox: s.Outbox(),
		OutboxStore: s.Outbox(), Receipts: s.Receipts()}
}

func newQueryEnv(*testing.T) querytest.Env {
	s := memory.NewStore()
	return querytest.Env{Env: envOf(s), ChatReads: s.ChatReadModel(), MessageReads: s.MessageReadModel(),
		ReceiptReads: s.ReceiptReadModel(), SearchReads: s.MessageReadModel(),
		Threads: s.Threads(), ThreadReads: s.MessageReadModel(), Files: memory.NewFileRepo(s), Documents: s.MessageReadModel(),
		Profiles: memory.NewProfileRepo(s)}
}

func TestIdentityRepositories(t *testing.T) {
	t.Parallel()
	porttest.RunIdentityRepositories(t, newEnv)
}
func TestChatRepository(t *testing.T)    { t.Parallel(); porttest.RunChatRepository(t, newEnv) }
func TestMessageRepository(t *testing.T) { t.Parallel(); porttest.RunMessageRepository(t, newEnv) }
func TestOutbox(t *testing.T)            { t.Parallel(); porttest.RunOutbox(t, newEnv) }
func TestMessageSender(t *testing.T)     { t.Parallel(); porttest.RunMessageSender(t, newEnv) }
func TestTransactor(t *testing.T)        { t.Parallel(); porttest.RunTransactor(t, newEnv) }
func TestChatReadModel(t *testing.T)     { t.Parallel(); querytest.RunChatReadModel(t, newQueryEnv) }
func TestMessageReadModel(t *testing.T)  { t.Parallel(); querytest.RunMessageReadModel(t, newQueryEnv) }
func TestReceiptRepository(t *testing.T) { t.Parallel(); porttest.RunReceiptRepository(t, newEnv) }
func TestReceiptReadModel(t *testing.T)  { t.Parallel(); querytest.RunReceiptReadModel(t, newQueryEnv) }
func TestSearchReadModels(t *testing.T)  { t.Parallel(); querytest.RunSearchReadModels(t, newQueryEnv) }
func TestThreadsAndMentions(t *testing.T) {
	t.Parallel()
	querytest.RunThreadsAndMentions(t, newQueryEnv)
}

// The suites also pass when every case shares one store, as they do one
// database with the Postgres adapter.
func TestSuitesOnOneStore(t *testing.T) {
	t.Parallel()
	s := memory.NewStore()
	files, profiles := memory.NewFileRepo(s), memory.NewProfileRepo(s)
	env := func(*testing.T) porttest.Env { return envOf(s) }
	qenv := func(*testing.T) querytest.Env {
		return querytest.Env{Env: envOf(s), ChatReads: s.ChatReadModel(), MessageReads: s.MessageReadModel(),
			ReceiptReads: s.ReceiptReadModel(), SearchReads: s.MessageReadModel(),
			Threads: s.Threads(), ThreadReads: s.MessageReadModel(), Files: files, Documents: s.MessageReadModel(), Profiles: profiles}
	}
	t.Run("identity", func(t *testing.T) { t.Parallel(); porttest.RunIdentityRepositories(t, env) })
	t.Run("chat", func(t *testing.T) { t.Parallel(); porttest.RunChatRepository(t, env) })
	t.Run("message", func(t *testing.T) { t.Parallel(); porttest.RunMessageRepository(t, env) })
	t.Run("outbox", func(t *testing.T) { t.Parallel(); porttest.RunOutbox(t, env) })
	t.Run("transactor", func(t *testing.T) { t.Parallel(); porttest.RunTransactor(t, env) })
	t.Run("chat read model", func(t *testing.T) { t.Parallel(); querytest.RunChatReadModel(t, qenv) })
	t.Run("message read model", func(t *testing.T) { t.Parallel(); querytest.RunMessageReadModel(t, qenv) })
	t.Run("receipt", func(t *testing.T) { t.Parallel(); porttest.RunReceiptRepository(t, env) })
	t.Run("receipt read model", func(t *testing.T) { t.Parallel(); querytest.RunReceiptReadModel(t, qenv) })
	t.Run("search read models", func(t *testing.T) { t.Parallel(); querytest.RunSearchReadModels(t, qenv) })
	t.Run("threads and mentions", func(t *testing.T) { t.Parallel(); querytest.RunThreadsAndMentions(t, qenv) })
	t.Run("search documents", func(t *testing.T) { t.Parallel(); querytest.RunSearchDocuments(t, qenv) })
}

// Append and Add refuse to run outside a transaction, so application code
// that forgets one fails in tests as it would lose atomicity in production.
func TestAppendAndAddNeedATransaction(t *testing.T) {
	s := memory.NewStore()
	env := envOf(s)
	ws := env.NewWorkspace(t)
	us := env.NewUsers(t, ws.ID, 2)
	c := env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID}, time.Now())
	m, err := message.New(c.ID(), us[0].ID, "hi", "", 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Messages().Append(context.Background(), m); err == nil {
		t.Fatalf("Append outside a transaction succeeded")
	}
	if err := s.Outbox().Add(context.Background(), ports.Event{ID: "e"}); err == nil {
		t.Fatalf("Outbox.Add outside a transaction succeeded")
	}
}

func BenchmarkSend(b *testing.B) {
	s := memory.NewStore()
	env := envOf(s)
	ws := env.NewWorkspace(b)
	us := env.NewUsers(b, ws.ID, 10)
	ids := make([]int64, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	c := env.NewChat(b, ws.ID, ids[0], chat.Group, ids[1:], time.Now())
	ctx := context.Background()
	ev := []ports.Event{{ID: "e", Type: ports.EventMessageCreated, Data: []byte(`{}`)}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m, _ := message.New(c.ID(), ids[0], "hello", "", 0, time.Now())
			err := s.InTx(ctx, func(ctx context.Context) error {
				if _, err := s.Chats().Membership(ctx, c.ID(), ids[0]); err != nil {
					return err
				}
				if err := s.Messages().Append(ctx, m); err != nil {
					return err
				}
				return s.Outbox().Add(ctx, ev...)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestFakeClock(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	c := memory.NewFakeClock(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("Now = %v; want %v", c.Now(), t0)
	}
	c.Advance(90 * time.Second)
	if want := t0.Add(90 * time.Second); !c.Now().Equal(want) {
		t.Fatalf("after Advance, Now = %v; want %v", c.Now(), want)
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("after Set, Now = %v; want %v", c.Now(), t0)
	}
	if d := time.Since(memory.SystemClock{}.Now()); d < 0 || d > time.Minute {
		t.Fatalf("SystemClock is %v off", d)
	}
}

func TestRateLimiter(t *testing.T) {
	ctx := context.Background()
	clock := memory.NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	l := memory.NewRateLimiter(3, time.Minute, clock)
	for i := range 3 {
		if ok, _ := l.Allow(ctx, "a"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
		clock.Advance(10 * time.Second)
	}
	ok, retry := l.Allow(ctx, "a")
	if ok || retry != 30*time.Second {
		t.Fatalf("fourth attempt = %v, retry after %v; want false, 30s", ok, retry)
	}
	if ok, _ := l.Allow(ctx, "b"); !ok {
		t.Fatalf("another key was refused")
	}
	clock.Advance(30 * time.Second) // the first attempt leaves the window
	if ok, _ := l.Allow(ctx, "a"); !ok {
		t.Fatalf("attempt after the window moved was refused")
	}
	if ok, _ := l.Allow(ctx, "a"); ok {
		t.Fatalf("attempt over the limit allowed")
	}
	l.Reset(ctx, "a")
	if ok, _ := l.Allow(ctx, "a"); !ok {
		t.Fatalf("attempt after Reset refused")
	}
	if ok, _ := memory.NewRateLimiter(0, time.Minute, nil).Allow(ctx, "x"); !ok {
		t.Fatalf("a limit of 0 refused")
	}
}

func TestSecretGenerator(t *testing.T) {
	g := memory.SecretGenerator{}
	a, b := g.Secret(32), g.Secret(32)
	if a == b {
		t.Fatalf("two secrets are equal: %q", a)
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 {
		t.Fatalf("secret %q decodes to %d bytes, %v; want 32 bytes of base64url", a, len(raw), err)
	}
}

func TestFileStore(t *testing.T) {
	store := memory.NewFileStore()
	porttest.RunFileStore(t, func(*testing.T) ports.FileStore { return store })
}
