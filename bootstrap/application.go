package bootstrap

import (
	"math"
	"time"

	"go.uber.org/fx"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/security"
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
			func() ports.Clock { return memory.SystemClock{} },
			func() ports.SecretGenerator { return memory.SecretGenerator{} },
			func() ports.PasswordHasher {
				if cfg.Profile == ProfileTest {
					return security.NewArgon2Hasher(security.FastArgon2)
				}
				return security.NewArgon2Hasher(security.DefaultArgon2)
			},
			func(clock ports.Clock) (ports.TokenIssuer, error) {
				return security.NewJWTIssuer([]byte(cfg.Auth.JWTSecret), cfg.Auth.AccessTTL, clock)
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
	// Sends, when present (the observability module), is told of every
	// SendMessage through a decorator.
	Sends application.SendObserver `optional:"true"`

	// From the presence module.
	Presence     *command.LocalPresence
	PresenceView query.PresenceView
	LastSeen     ports.LastSeenRepository
}

func newApplication(in applicationIn) application.App {
	cfg := in.Config
	// The send limit is configured as a token bucket (rate and burst); the
	// limiter counts a sliding window: burst sends per burst/rate seconds.
	send := cfg.Limits.SendRate
	window := time.Second
	if send.PerSecond > 0 && send.Burst > 0 {
		window = time.Duration(math.Ceil(float64(send.Burst) / send.PerSecond * float64(time.Second)))
	}
	signin := cfg.Auth.SigninLimit
	app := application.New(application.Ports{
		Tx:              in.Tx,
		Workspaces:      in.Workspaces,
		Users:           in.Users,
		Invites:         in.Invites,
		RefreshTokens:   in.RefreshTokens,
		Chats:           in.Chats,
		Messages:        in.Messages,
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
		SignInByEmail:   memory.NewRateLimiter(signin.PerEmail.Max, signin.PerEmail.Window, in.Clock),
		SignInByAddress: memory.NewRateLimiter(signin.PerAddress.Max, signin.PerAddress.Window, in.Clock),
		SendLimiter:     memory.NewRateLimiter(send.Burst, window, in.Clock),
		Presence:        in.Presence,
		PresenceView:    in.PresenceView,
		LastSeen:        in.LastSeen,
	}, application.Options{Limits: in.Limits, RefreshTTL: cfg.Auth.RefreshTTL})
	if in.Sends != nil {
		app.Commands.SendMessage = application.MeasureSends(app.Commands.SendMessage, in.Sends)
	}
	return app
}
