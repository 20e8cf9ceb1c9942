// Package memapp assembles the application on the memory adapters, for
// fast tests and benchmarks of inbound adapters (REST, WebSocket).
package memapp

import (
	"math"
	"strings"
	"time"

	"github.com/fechatter/fechatter/adapters/imaging"
	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/security"
	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/ports"
)

// Options tune the assembled app; zero values take test-friendly defaults
// (no rate limits, the system clock, the default chat limits).
type Options struct {
	Clock            ports.Clock
	Limits           chat.Limits
	SignInPerEmail   int // failed sign-ins before backoff starts; 0 is unlimited
	SignInPerAddress int
	SignUpPerAddress int // sign-ups per address per hour; 0 is unlimited
	SendBurst        int // sends per user per second; 0 is unlimited
	AccessTTL        time.Duration

	// Presence tunes this App's LocalPresence; Instance defaults to
	// "memapp". To play several server instances, give each App its own
	// Instance and share Store, PresenceStore and LastSeen.
	Presence command.PresenceOptions
	// Store is the storage (default: a fresh one).
	Store *memory.Store
	// PresenceStore is shared by the instances (default: a fresh memory
	// store on Clock whose entries live 75 s).
	PresenceStore ports.PresenceStore
	// LastSeen plays the database's user_presence (default: a fresh one).
	LastSeen *memory.LastSeenRepository
	// Signals carries typing to the instances (default: dropped); tests
	// that watch typing pass their bus.
	Signals ports.SignalPublisher
	// Files are the upload limits (defaults: 25 MiB, 10 GiB a workspace).
	Files command.FileLimits
}

// Env is the assembled app with the parts tests reach into.
type Env struct {
	App    application.App
	Store  *memory.Store
	Tokens ports.TokenIssuer
	Clock  ports.Clock
	Search *memory.SearchIndex
	Files  *memory.FileStore

	// Presence is the App's LocalPresence; PresenceWatcher its view of
	// every instance, which Start starts (with a notifier, the gateway,
	// to fan changes out). Nothing runs until a test does: the presence
	// commands only change memory until Presence.Publish, Sweep or Run
	// writes the store, and the view follows it once the watcher started.
	Presence        *command.LocalPresence
	PresenceWatcher *event.PresenceWatcher
	PresenceStore   ports.PresenceStore
	LastSeen        *memory.LastSeenRepository
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
	store := o.Store
	if store == nil {
		store = memory.NewStore(memory.WithChatLimits(o.Limits))
	}
	if o.Presence.Instance == "" {
		o.Presence.Instance = "memapp"
	}
	if o.PresenceStore == nil {
		o.PresenceStore = memory.NewPresenceStore(o.Clock, 75*time.Second, 2*time.Hour)
	}
	if o.LastSeen == nil {
		o.LastSeen = memory.NewLastSeenRepository()
	}
	if o.Signals == nil {
		o.Signals = memory.DiscardSignals{}
	}
	local := command.NewLocalPresence(o.PresenceStore, o.LastSeen, o.Signals, o.Clock, nil, o.Presence)
	var wo event.PresenceWatcherOptions
	if _, fake := o.Clock.(*memory.FakeClock); fake {
		// A fake clock moves only when the test says: the test calls
		// PresenceWatcher.Expire after it moved it, as the loop would on
		// its next tick. A loop on real time would take the instance for
		// dead between a jump of the clock and the sweep that beats.
		wo.Tick = math.MaxInt64
	}
	watcher := event.NewPresenceWatcher(o.PresenceStore, store.MessageReadModel(), o.Clock, nil, wo)
	jwt, err := security.NewJWTIssuer([]byte(strings.Repeat("test-secret-", 4)), o.AccessTTL, o.Clock)
	if err != nil {
		panic(err) // the secret above is long enough
	}
	tokens := security.NewSessionCheckedTokens(jwt, store.RefreshTokens(), 0, o.Clock)
	search := memory.NewSearchIndex()
	files := memory.NewFileStore()
	app := application.New(application.Ports{
		Tx:              store,
		Workspaces:      store.Workspaces(),
		Users:           store.Users(),
		Invites:         store.Invites(),
		RefreshTokens:   store.RefreshTokens(),
		Chats:           store.Chats(),
		Messages:        store.Messages(),
		Sender:          store.Messages(),
		Outbox:          store.Outbox(),
		ChatReads:       store.ChatReadModel(),
		MessageReads:    store.MessageReadModel(),
		SearchIndex:     search,
		MemberChats:     store.MessageReadModel(),
		MessageLookup:   store.MessageReadModel(),
		Receipts:        store.Receipts(),
		ReceiptReads:    store.ReceiptReadModel(),
		Clock:           o.Clock,
		Hasher:          security.NewArgon2Hasher(security.FastArgon2),
		Tokens:          tokens,
		Secrets:         memory.SecretGenerator{},
		SignInByEmail:   memory.NewFailureLimiter(failures(o.SignInPerEmail), o.Clock),
		SignInByAddress: memory.NewFailureLimiter(failures(o.SignInPerAddress), o.Clock),
		InviteFailures:  memory.NewFailureLimiter(failures(5), o.Clock),
		PasswordChecks:  memory.NewFailureLimiter(failures(o.SignInPerEmail), o.Clock),
		SignUpByAddress: memory.NewRateLimiter(o.SignUpPerAddress, time.Hour, o.Clock),
		SendLimiter:     memory.NewRateLimiter(o.SendBurst, time.Second, o.Clock),
		Presence:        local,
		PresenceView:    watcher,
		LastSeen:        o.LastSeen,
		Reactions:       memory.NewReactionRepo(),
		Threads:         store.Threads(),
		Profiles:        memory.NewProfileRepo(store),
		ThreadReads:     store.MessageReadModel(),
		Files:           memory.NewFileRepo(store),
		FileStore:       files,
		FileInspector:   imaging.Inspector{},
		FileLinks:       query.NewFileLinks([]byte(strings.Repeat("link-secret-", 3)), 0, o.Clock),
	}, application.Options{Limits: o.Limits, Files: o.Files})
	return Env{App: app, Store: store, Tokens: tokens, Clock: o.Clock, Search: search, Files: files,
		Presence: local, PresenceWatcher: watcher, PresenceStore: o.PresenceStore, LastSeen: o.LastSeen}
}

// failures is the backoff policy of memapp's failure limits: free failures
// (0: unlimited), then 1s doubling up to 15 minutes.
func failures(free int) ports.BackoffPolicy {
	if free <= 0 {
		free = math.MaxInt
	}
	return ports.BackoffPolicy{Free: free, Base: time.Second, Max: 15 * time.Minute, Forget: 15 * time.Minute}
}
