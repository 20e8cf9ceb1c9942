// Package memapp assembles the application on the memory adapters, for
// fast tests and benchmarks of inbound adapters (REST, WebSocket).
package memapp

import (
	"strings"
	"time"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/security"
	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/ports"
)

// Options tune the assembled app; zero values take test-friendly defaults
// (no rate limits, the system clock, the default chat limits).
type Options struct {
	Clock            ports.Clock
	Limits           chat.Limits
	SignInPerEmail   int // attempts per 15 minutes; 0 is unlimited
	SignInPerAddress int
	SendBurst        int // sends per user per second; 0 is unlimited
	AccessTTL        time.Duration
}

// Env is the assembled app with the parts tests reach into.
type Env struct {
	App    application.App
	Store  *memory.Store
	Tokens ports.TokenIssuer
	Clock  ports.Clock
	Search *memory.SearchIndex
}

// New assembles an App on a fresh memory store.
func New(o Options) Env {
	if o.Clock == nil {
		o.Clock = memory.SystemClock{}
	}
	if o.Limits == (chat.Limits{}) {
		o.Limits = chat.DefaultLimits
	}
	if o.AccessTTL == 0 {
		o.AccessTTL = 15 * time.Minute
	}
	store := memory.NewStore(memory.WithChatLimits(o.Limits))
	tokens, err := security.NewJWTIssuer([]byte(strings.Repeat("test-secret-", 4)), o.AccessTTL, o.Clock)
	if err != nil {
		panic(err) // the secret above is long enough
	}
	search := memory.NewSearchIndex()
	app := application.New(application.Ports{
		Tx:              store,
		Workspaces:      store.Workspaces(),
		Users:           store.Users(),
		Invites:         store.Invites(),
		RefreshTokens:   store.RefreshTokens(),
		Chats:           store.Chats(),
		Messages:        store.Messages(),
		Outbox:          store.Outbox(),
		ChatReads:       store.ChatReadModel(),
		MessageReads:    store.MessageReadModel(),
		SearchIndex:     search,
		MemberChats:     store.MessageReadModel(),
		MessageLookup:   store.MessageReadModel(),
		Clock:           o.Clock,
		Hasher:          security.NewArgon2Hasher(security.FastArgon2),
		Tokens:          tokens,
		Secrets:         memory.SecretGenerator{},
		SignInByEmail:   memory.NewRateLimiter(o.SignInPerEmail, 15*time.Minute, o.Clock),
		SignInByAddress: memory.NewRateLimiter(o.SignInPerAddress, 15*time.Minute, o.Clock),
		SendLimiter:     memory.NewRateLimiter(o.SendBurst, time.Second, o.Clock),
	}, application.Options{Limits: o.Limits})
	return Env{App: app, Store: store, Tokens: tokens, Clock: o.Clock, Search: search}
}
