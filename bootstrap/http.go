package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"net"

	"go.uber.org/fx"
	"go.uber.org/zap"

	httpadapter "github.com/fechatter/fechatter/adapters/http"
	"github.com/fechatter/fechatter/adapters/http/web"
	"github.com/fechatter/fechatter/adapters/observability"
	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports"
)

// Listener is the bound HTTP address, known once the server has started
// (the test profile binds port 0).
type Listener struct{ addr net.Addr }

// Addr is the address the server listens on; nil before start.
func (l *Listener) Addr() net.Addr { return l.addr }

// ReadyChecks are the named checks behind /health/ready; modules add theirs
// through the "ready" value group.
type ReadyCheck struct {
	Name  string
	Check httpadapter.ReadinessCheck
}

func httpModule() fx.Option {
	return fx.Module("http",
		fx.Provide(
			fx.Annotate(databaseReadyCheck, fx.ResultTags(`group:"ready"`)),
			newHTTPServer,
			func() *Listener { return &Listener{} },
		),
		fx.Invoke(startHTTP),
	)
}

// databaseReadyCheck: the database answers (through the probe's own
// connections, so a busy pool is not "unavailable") and is migrated.
func databaseReadyCheck(probe *databaseProbe) ReadyCheck {
	return ReadyCheck{Name: "database", Check: func(ctx context.Context) error {
		if err := probe.ping(ctx); err != nil {
			return err
		}
		status, err := postgres.Status(ctx, probe.db)
		if err != nil {
			return fmt.Errorf("migration status: %w", err)
		}
		pending := 0
		for _, m := range status {
			if !m.Applied {
				pending++
			}
		}
		if pending > 0 {
			return fmt.Errorf("%d migrations not applied", pending)
		}
		return nil
	}}
}

type httpServerIn struct {
	fx.In
	App    application.App
	Tokens ports.TokenIssuer
	Log    *zap.Logger
	Ready  []ReadyCheck `group:"ready"`
	// From the observability module: /health, /metrics and the request
	// metrics; without it /health answers 503 and /metrics 404.
	Health  *query.Health          `optional:"true"`
	Metrics *observability.Metrics `optional:"true"`
}

func newHTTPServer(in httpServerIn) *httpadapter.Server {
	ready := make(map[string]httpadapter.ReadinessCheck, len(in.Ready))
	for _, c := range in.Ready {
		ready[c.Name] = c.Check
	}
	opts := httpadapter.Options{Ready: ready}
	if in.Health != nil {
		opts.Health = in.Health
	}
	if in.Metrics != nil {
		opts.Metrics = in.Metrics.Handler()
		opts.Requests = in.Metrics
	}
	return httpadapter.NewServer(in.App, in.Tokens, in.Log.Named("http"), opts)
}

func startHTTP(lc fx.Lifecycle, cfg Config, srv *httpadapter.Server, l *Listener, log *zap.Logger) {
	var (
		ln     net.Listener
		served = make(chan struct{})
	)
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			web.Mount(srv.Fiber()) // the browser client at /, before the catch-all
			srv.NotFound()
			var err error
			ln, err = net.Listen("tcp", cfg.HTTP.Addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
			}
			l.addr = ln.Addr()
			go func() {
				defer close(served)
				if err := srv.Fiber().Listener(ln); err != nil && !errors.Is(err, net.ErrClosed) {
					log.Error("http server stopped", zap.Error(err))
				}
			}()
			log.Info("listening", zap.String("addr", "http://"+ln.Addr().String()))
			return nil
		},
		OnStop: func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			// Shutdown closes only the listeners the server has begun to
			// serve: a stop right after the start (a later start hook
			// failed) would leave the accept loop running.
			_ = ln.Close()
			select {
			case <-served:
			case <-ctx.Done():
				return errors.Join(err, fmt.Errorf("http server did not stop: %w", ctx.Err()))
			}
			return err
		},
	})
}
