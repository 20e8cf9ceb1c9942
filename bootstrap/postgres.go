package bootstrap

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/ports"
)

// dbOpenTimeout bounds creating the database and the first connection.
const dbOpenTimeout = 30 * time.Second

// postgresModule provides the *bun.DB and the Transactor. In profiles with
// database.auto_create the database is created if missing; with
// database.auto_migrate pending migrations run on start, before any later
// module's start hook.
func postgresModule(cfg Config) fx.Option {
	return fx.Module("postgres",
		fx.Provide(
			newDatabase,
			newDatabaseProbe,
			fx.Annotate(postgres.NewTransactor, fx.As(new(ports.Transactor))),
		),
		// Opening the database is what proves the server can run, so it
		// happens even before anything else asks for it.
		fx.Invoke(func(*bun.DB) {}),
	)
}

func newDatabase(lc fx.Lifecycle, cfg Config, log *zap.Logger) (*bun.DB, error) {
	log = log.Named("postgres")
	dsn := cfg.Database.URL
	ctx, cancel := context.WithTimeout(context.Background(), dbOpenTimeout)
	defer cancel()
	if cfg.Database.AutoCreate {
		if err := postgres.EnsureDatabase(ctx, dsn); err != nil {
			return nil, fmt.Errorf("create database: %w", err)
		}
	}
	idle := cfg.Database.MaxIdleConns
	if idle == 0 {
		idle = cfg.Database.MaxOpenConns
	}
	db, err := postgres.Open(ctx, dsn, postgres.WithMaxOpenConns(cfg.Database.MaxOpenConns), postgres.WithMaxIdleConns(idle))
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if !cfg.Database.AutoMigrate {
				return nil
			}
			started := time.Now()
			if err := postgres.Migrate(ctx, db); err != nil {
				return err
			}
			log.Info("migrations applied", zap.Duration("took", time.Since(started)))
			return nil
		},
		OnStop: func(context.Context) error {
			return db.Close()
		},
	})
	log.Info("connected", zap.String("database", postgres.Redact(dsn)))
	return db, nil
}

// databaseProbe is what the health and readiness checks ask the database
// through: connections of its own (application_name fechatter-health), so
// that a pool busy with requests, which can keep a ping waiting for a
// connection past the check's timeout, does not make a database that
// answers look down (issue 19: a load balancer would eject a working
// instance).
type databaseProbe struct{ db *bun.DB }

// probeConns bounds the probe's connections: checks are pings, and a
// check waiting for one of these waits for a ping, not for a request.
const probeConns = 2

func newDatabaseProbe(lc fx.Lifecycle, cfg Config) (*databaseProbe, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dbOpenTimeout)
	defer cancel()
	db, err := postgres.Open(ctx, cfg.Database.URL, postgres.WithMaxOpenConns(probeConns), postgres.WithMaxIdleConns(probeConns),
		postgres.WithApplicationName("fechatter-health"))
	if err != nil {
		return nil, fmt.Errorf("health probe: %w", err)
	}
	lc.Append(fx.Hook{OnStop: func(context.Context) error { return db.Close() }})
	return &databaseProbe{db: db}, nil
}

// ping reports whether the database answers.
func (p *databaseProbe) ping(ctx context.Context) error {
	if err := p.db.PingContext(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	return nil
}
