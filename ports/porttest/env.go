package porttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/identity"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

// Env carries the port implementations under test. They must share one
// storage: rows written through one are seen by the others, and Tx spans
// them all. Each suite says which fields it uses; unused ones may be nil.
type Env struct {
	Tx          ports.Transactor
	Workspaces  ports.WorkspaceRepository
	Users       ports.UserRepository
	Invites     ports.InviteRepository
	Tokens      ports.RefreshTokenRepository
	Chats       ports.ChatRepository
	Messages    ports.MessageRepository
	Sender      ports.MessageSender
	Outbox      ports.Outbox
	OutboxStore ports.OutboxStore
	Receipts    ports.ReceiptRepository
}

// Unique returns prefix followed by 12 random hex digits, for names, emails
// and codes that must not collide with other tests sharing a database.
func Unique(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// UUID returns a random version 4 UUID in its text form, for event ids and
// token families (a Postgres adapter may store them in uuid columns).
func UUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Now returns the current time in UTC at the microsecond precision every
// store keeps, so values compare equal after a round trip.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// NewWorkspace stores a workspace with a unique name.
func (e Env) NewWorkspace(t testing.TB) identity.Workspace {
	t.Helper()
	ws := identity.Workspace{Name: Unique("ws-"), CreatedAt: Now()}
	if err := e.Workspaces.Create(context.Background(), &ws); err != nil {
		t.Fatalf("create workspace: %v", err)
	}
	return ws
}

// NewUser stores a member of workspaceID with a unique email.
func (e Env) NewUser(t testing.TB, workspaceID int64) identity.User {
	t.Helper()
	return e.NewUserRole(t, workspaceID, identity.WorkspaceMember)
}

// NewUserRole stores a user of workspaceID with the given workspace role.
func (e Env) NewUserRole(t testing.TB, workspaceID int64, role identity.WorkspaceRole) identity.User {
	t.Helper()
	name := Unique("user-")
	u := identity.User{WorkspaceID: workspaceID, Email: name + "@example.com", Fullname: "User " + name,
		PasswordHash: "hash-" + name, Role: role, CreatedAt: Now()}
	if err := e.Users.Create(context.Background(), &u); err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

// NewUsers stores n members of workspaceID.
func (e Env) NewUsers(t testing.TB, workspaceID int64, n int) []identity.User {
	t.Helper()
	us := make([]identity.User, n)
	for i := range us {
		us[i] = e.NewUser(t, workspaceID)
	}
	return us
}

// NewChat builds a chat with chat.New (a unique name for groups and
// channels) and stores it.
func (e Env) NewChat(t testing.TB, workspaceID, creatorID int64, typ chat.Type, memberIDs []int64, now time.Time) *chat.Chat {
	t.Helper()
	name := ""
	if typ != chat.Direct {
		name = Unique("chat-")
	}
	c, err := chat.New(workspaceID, creatorID, typ, name, "about "+name, memberIDs, chat.DefaultLimits, now)
	if err != nil {
		t.Fatalf("chat.New: %v", err)
	}
	if err := e.Chats.Create(context.Background(), c); err != nil {
		t.Fatalf("create chat: %v", err)
	}
	return c
}

// Send appends a message in its own transaction and returns it with its
// id and seq set.
func (e Env) Send(t testing.TB, chatID, senderID int64, content string, now time.Time) *message.Message {
	t.Helper()
	return e.SendKey(t, chatID, senderID, content, "", now)
}

// SendKey is Send with an idempotency key.
func (e Env) SendKey(t testing.TB, chatID, senderID int64, content, key string, now time.Time) *message.Message {
	t.Helper()
	m, err := message.New(chatID, senderID, content, key, 0, now)
	if err != nil {
		t.Fatalf("message.New: %v", err)
	}
	if err := e.Append(context.Background(), m); err != nil {
		t.Fatalf("append message: %v", err)
	}
	return m
}

// Append runs MessageRepository.Append in its own transaction.
func (e Env) Append(ctx context.Context, m *message.Message) error {
	return e.Tx.InTx(ctx, func(ctx context.Context) error { return e.Messages.Append(ctx, m) })
}

// MustGetChat loads a chat or fails the test.
func (e Env) MustGetChat(t testing.TB, id int64) *chat.Chat {
	t.Helper()
	c, err := e.Chats.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get chat %d: %v", id, err)
	}
	return c
}

// sameTime reports whether two instants are equal, whatever their zones.
func sameTime(a, b time.Time) bool { return a.Equal(b) }

func describe(v any) string { return fmt.Sprintf("%+v", v) }
