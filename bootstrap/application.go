package bootstrap

import (
	"runtime"
	"time"

	"github.com/uptrace/bun"
	"go.uber.org/fx"

	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/security"
	"github.com/fechatter/fechatter/adapters/system"
	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/ports"
)

// applicationModule builds the App from the ports the adapters provide,
// plus the small services (clock, hashing, tokens, rate limits).
func applicationModule(cfg Config) fx.Option {
	return fx.Module("application",
		fx.Provide(
			func() ports.Clock { return system.Clock{} },
			func() ports.SecretGenerator { return system.SecretGenerator{} },
			func() ports.PasswordHasher {
				params := security.DefaultArgon2
				if cfg.Profile == ProfileTest && cfg.Auth.HashCost != "owasp" {
					params = security.FastArgon2
				}
				n, wait := cfg.Auth.HashConcurrency, cfg.Auth.HashWait
				if n <= 0 {
					n = runtime.NumCPU()
				}
				if wait <= 0 {
					wait = 5 * time.Second
				}
				return security.NewBoundedHasher(security.NewArgon2Hasher(params), n, wait)
			},
			func(clock ports.Clock, refresh ports.RefreshTokenRepository) (ports.TokenIssuer, error) {
				jwt, err := security.NewJWTIssuer([]byte(cfg.Auth.JWTSecret), cfg.Auth.AccessTTL, clock)
				if err != nil {
					return nil, err
				}
				// Every Verify (REST and the WebSocket upgrade) refuses the
				// tokens of ended sessions, looked up in the database.
				return security.NewSessionCheckedTokens(jwt, refresh, 0, clock), nil
			},
			newApplication,
		),
	)
}

type applicationIn struct {
	fx.In
	Tx            ports.Transactor
	Workspaces    ports.WorkspaceRepository
	Users         ports.UserRepository
	Invites       ports.InviteRepository
	RefreshTokens ports.RefreshTokenRepository
	Chats         ports.ChatRepository
	Messages      ports.MessageRepository
	Sender        ports.MessageSender
	Outbox        ports.Outbox
	ChatReads     query.ChatReadModel
	MessageReads  query.MessageReadModel
	SearchIndex   ports.SearchIndex
	MemberChats   query.MemberChats
	MessageLookup query.MessageLookup
	Receipts      ports.ReceiptRepository
	ReceiptReads  query.ReceiptReadModel
	Clock         ports.Clock
	Hasher        ports.PasswordHasher
	Tokens        ports.TokenIssuer
	Secrets       ports.SecretGenerator
	Limits        chat.Limits
	Config        Config
	DB            *bun.DB
	// Sends, when present (the observability module), is told of every
	// SendMessage through a decorator.
	Sends application.SendObserver `optional:"true"`

	// From the files module.
	Reactions     ports.ReactionRepository
	Threads       ports.ThreadRepository
	ThreadReads   query.ThreadReadModel
	Files         ports.FileRepository
	FileStore     ports.FileStore
	FileInspector ports.FileInspector
	FileLinks     query.FileLinks

	// From the presence module.
	Presence     *command.LocalPresence
	PresenceView query.PresenceView
	LastSeen     ports.LastSeenRepository
}

func newApplication(in applicationIn) application.App {
	cfg := in.Config
	// The send limit is a token bucket per user (rate and burst), the
	// sign-up limit one per client address (max per window: burst max,
	// refilled at max/window).
	send := cfg.Limits.SendRate
	signin := cfg.Auth.SigninLimit
	signup := cfg.Auth.SignupLimit
	if signup.Max <= 0 || signup.Window <= 0 {
		signup = WindowLimit{Max: 20, Window: time.Hour}
	}
	app := application.New(application.Ports{
		Tx:              in.Tx,
		Workspaces:      in.Workspaces,
		Users:           in.Users,
		Invites:         in.Invites,
		RefreshTokens:   in.RefreshTokens,
		Chats:           in.Chats,
		Messages:        in.Messages,
		Sender:          in.Sender,
		Outbox:          in.Outbox,
		ChatReads:       in.ChatReads,
		MessageReads:    in.MessageReads,
		SearchIndex:     in.SearchIndex,
		MemberChats:     in.MemberChats,
		MessageLookup:   in.MessageLookup,
		Receipts:        in.Receipts,
		ReceiptReads:    in.ReceiptReads,
		Clock:           in.Clock,
		Hasher:          in.Hasher,
		Tokens:          in.Tokens,
		Secrets:         in.Secrets,
		SignInByEmail:   postgres.NewFailureLimiter(in.DB, failurePolicy(signin.PerEmail), in.Clock),
		SignInByAddress: postgres.NewFailureLimiter(in.DB, failurePolicy(signin.PerAddress), in.Clock),
		InviteFailures:  postgres.NewFailureLimiter(in.DB, failurePolicy(WindowLimit{Max: 5, Window: time.Hour}), in.Clock),
		PasswordChecks:  postgres.NewFailureLimiter(in.DB, failurePolicy(signin.PerEmail), in.Clock),
		SignUpByAddress: system.NewWindowBucket(signup.Max, signup.Window, in.Clock),
		SendLimiter:     system.NewTokenBucket(send.PerSecond, send.Burst, in.Clock),
		Presence:        in.Presence,
		PresenceView:    in.PresenceView,
		LastSeen:        in.LastSeen,
		Reactions:       in.Reactions,
		Threads:         in.Threads,
		ThreadReads:     in.ThreadReads,
		Files:           in.Files,
		FileStore:       in.FileStore,
		FileInspector:   in.FileInspector,
		FileLinks:       in.FileLinks,
	}, application.Options{Limits: in.Limits, RefreshTTL: cfg.Auth.RefreshTTL,
		Files: command.FileLimits{MaxBytes: cfg.Limits.FileMaxBytes, QuotaBytes: cfg.Limits.WorkspaceStorageBytes}})
	if in.Sends != nil {
		app.Commands.SendMessage = application.MeasureSends(app.Commands.SendMessage, in.Sends)
	}
	return app
}

// failurePolicy reads a sign-in limit as a failure allowance: Max failures
// are free, each further one doubles the wait from one second, up to Window;
// failures older than Window are forgotten.
func failurePolicy(l WindowLimit) ports.BackoffPolicy {
	return ports.BackoffPolicy{Free: l.Max, Base: time.Second, Max: l.Window, Forget: l.Window}
}
