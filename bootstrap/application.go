package bootstrap

import (
	"reflect"
	"runtime"
	"time"

	"github.com/uptrace/bun"
	"go.uber.org/fx"

	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/security"
	"github.com/fechatter/fechatter/adapters/system"
	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/application/command"
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
			portsFromContainer(),
			newApplication,
		),
	)
}

// limiterPorts are the fields of application.Ports that newApplication
// builds from the configuration; every other field is taken from the
// container by type (portsFromContainer), so a new port is added to
// application.Ports and provided by its module, nowhere else.
var limiterPorts = map[string]bool{"SignInByEmail": true, "SignInByAddress": true, "InviteFailures": true,
	"PasswordChecks": true, "SignUpByAddress": true, "SendLimiter": true}

// portsFromContainer is a constructor of application.Ports whose
// parameters are the types of its fields (but limiterPorts).
func portsFromContainer() any {
	pt := reflect.TypeFor[application.Ports]()
	var in []reflect.Type
	var fields []int
	for i := range pt.NumField() {
		if f := pt.Field(i); !limiterPorts[f.Name] {
			in = append(in, f.Type)
			fields = append(fields, i)
		}
	}
	ft := reflect.FuncOf(in, []reflect.Type{pt}, false)
	return reflect.MakeFunc(ft, func(args []reflect.Value) []reflect.Value {
		p := reflect.New(pt).Elem()
		for n, a := range args {
			p.Field(fields[n]).Set(a)
		}
		return []reflect.Value{p}
	}).Interface()
}

type applicationIn struct {
	fx.In
	Ports  application.Ports
	Limits chat.Limits
	Config Config
	DB     *bun.DB
	// Sends, when present (the observability module), is told of every
	// SendMessage through a decorator.
	Sends application.SendObserver `optional:"true"`
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
	p := in.Ports
	clock := p.Clock
	p.SignInByEmail = postgres.NewFailureLimiter(in.DB, failurePolicy(signin.PerEmail), clock)
	p.SignInByAddress = postgres.NewFailureLimiter(in.DB, failurePolicy(signin.PerAddress), clock)
	p.InviteFailures = postgres.NewFailureLimiter(in.DB, failurePolicy(WindowLimit{Max: 5, Window: time.Hour}), clock)
	p.PasswordChecks = postgres.NewFailureLimiter(in.DB, failurePolicy(signin.PerEmail), clock)
	p.SignUpByAddress = system.NewWindowBucket(signup.Max, signup.Window, clock)
	p.SendLimiter = system.NewTokenBucket(send.PerSecond, send.Burst, clock)
	app := application.New(p, application.Options{Limits: in.Limits, RefreshTTL: cfg.Auth.RefreshTTL,
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
