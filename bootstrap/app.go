package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
)

// startTimeout bounds app.Start: opening connections, migrating, starting
// listeners and consumers.
const startTimeout = 2 * time.Minute

// modules lists the fx modules of the server for cfg, one per adapter or
// layer, each in its own file of this package. To add one, write
// `func xxxModule(cfg Config) fx.Option` returning fx.Module("xxx", ...) and
// append it here; choose between implementations of a port (NATS embedded or
// external, Bleve or Meilisearch) inside the module from cfg.
func modules(cfg Config, log *zap.Logger) []fx.Option {
	return []fx.Option{
		coreModule(cfg, log),
		postgresModule(cfg),
		storeModule(),
		filesModule(cfg),
		natsModule(cfg),
		searchModule(cfg),
		observabilityModule(),
		applicationModule(cfg),
		presenceModule(cfg),
		httpModule(),
		wsModule(cfg),
	}
}

// newApp builds the fx application from modules(cfg) plus extra options
// (tests add fx.Populate or fx.Invoke here).
func newApp(cfg Config, log *zap.Logger, extra ...fx.Option) *fx.App {
	opts := append(modules(cfg, log), extra...)
	opts = append(opts,
		fxLogger(),
		fx.StartTimeout(startTimeout),
		fx.StopTimeout(cfg.HTTP.ShutdownTimeout),
	)
	return fx.New(opts...)
}

// coreModule supplies the configuration and the logger to every module and
// tidies up after the others have stopped (its hook is the first registered,
// so it runs last on stop).
func coreModule(cfg Config, log *zap.Logger) fx.Option {
	return fx.Module("core",
		fx.Supply(cfg, log),
		fx.Invoke(func(lc fx.Lifecycle, cfg Config, log *zap.Logger) {
			lc.Append(fx.Hook{
				OnStart: func(context.Context) error {
					log.Info("starting",
						zap.String("profile", cfg.Profile),
						zap.String("version", version),
						zap.String("http_addr", cfg.HTTP.Addr),
						zap.String("database", redactURL(cfg.Database.URL)),
						zap.String("nats_mode", cfg.NATS.Mode),
						zap.String("search_backend", cfg.Search.Backend),
						zap.String("data_dir", cfg.DataDir),
					)
					return nil
				},
				OnStop: func(context.Context) error {
					_ = log.Sync() // fails harmlessly on terminals
					return cfg.Cleanup()
				},
			})
		}),
	)
}

// exitCodeError carries a process exit code chosen by a module through
// fx.Shutdowner.
type exitCodeError int

func (e exitCodeError) Error() string { return fmt.Sprintf("shut down with exit code %d", int(e)) }

// serve builds the app, starts it and runs until ctx is done (SIGINT or
// SIGTERM) or a module asks fx.Shutdowner to stop, then stops every module
// within cfg.HTTP.ShutdownTimeout.
func serve(ctx context.Context, cfg Config, log *zap.Logger, extra ...fx.Option) error {
	app := newApp(cfg, log, extra...)
	if err := app.Err(); err != nil {
		return err
	}

	startCtx, cancel := context.WithTimeout(ctx, startTimeout)
	err := app.Start(startCtx)
	cancel()
	if err != nil {
		// fx has already stopped whatever had started.
		return fmt.Errorf("start: %w", err)
	}
	log.Info("started", zap.String("profile", cfg.Profile))

	exitCode := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down", zap.String("reason", context.Cause(ctx).Error()))
	case sig := <-app.Wait():
		exitCode = sig.ExitCode
		log.Info("shutting down", zap.Stringer("signal", sig.Signal), zap.Int("exit_code", exitCode))
	}

	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := app.Stop(stopCtx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("stop: not done within shutdown_timeout %s: %w", cfg.HTTP.ShutdownTimeout, err)
		}
		return fmt.Errorf("stop: %w", err)
	}
	log.Info("stopped")
	if exitCode != 0 {
		return exitCodeError(exitCode)
	}
	return nil
}
