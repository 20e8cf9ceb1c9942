package bootstrap

import (
	"fmt"

	natsgo "github.com/nats-io/nats.go"
	"github.com/uptrace/bun"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/adapters/observability"
	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/ws"
	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/application/query"
)

// HealthCheck is one dependency behind /health. The modules owning the
// dependencies add theirs through the "health" value group: "database"
// (here, beside the metrics of its pool), "nats" and "search".
type HealthCheck struct {
	Name  string
	Check query.HealthCheck
}

// Names of the health checks the report needs.
const (
	healthDatabase = "database"
	healthNATS     = "nats"
	healthSearch   = "search"
)

// observabilityModule provides the metrics (served at /metrics, fed by
// decorators and hooks the other modules install when it is present) and
// the health report of /health.
//
// What reports to the metrics: the SendMessage decorator (application
// module), the indexer's lag hook and a counting SearchIndex decorator
// (search module), the HTTP middleware (http module); the database pool
// and the outbox backlog are read at each scrape, WebSocket connections
// and their users from the gateway's Stats.
func observabilityModule() fx.Option {
	return fx.Module("observability",
		fx.Provide(
			newMetrics,
			func(m *observability.Metrics) application.SendObserver { return m },
			fx.Annotate(databaseHealthCheck, fx.ResultTags(`group:"health"`)),
			fx.Annotate(newHealth, fx.ParamTags(``, ``, ``, `group:"health"`)),
		),
		fx.Invoke(watchConnections, watchNATS),
	)
}

type watchConnectionsIn struct {
	fx.In
	Metrics *observability.Metrics
	Gateway *ws.Gateway `optional:"true"`
}

// watchConnections points the WebSocket gauge and active users at the
// gateway's counts. (An invoke, not a constructor argument: the gateway
// needs the App, which needs the metrics.)
func watchConnections(in watchConnectionsIn) {
	if in.Gateway == nil {
		return
	}
	gw := in.Gateway
	in.Metrics.WatchConnections(func() (int, int) {
		s := gw.Stats()
		return s.Connections, s.Users
	})
}

type watchNATSIn struct {
	fx.In
	Metrics *observability.Metrics
	Conn    *natsgo.Conn `optional:"true"`
}

// watchNATS points fechatter_nats_connected at the connection's state.
func watchNATS(in watchNATSIn) {
	if in.Conn != nil {
		in.Metrics.WatchNATS(in.Conn.IsConnected)
	}
}

func newMetrics(db *bun.DB, outbox *postgres.Outbox) *observability.Metrics {
	return observability.New(observability.Options{DB: db.DB, OutboxBacklog: outbox.Backlog})
}

// databaseHealthCheck asks the database through the probe's own
// connections: down means it does not answer, not that the pool is busy
// (the report's database_pool_usage shows that).
func databaseHealthCheck(probe *databaseProbe) HealthCheck {
	return HealthCheck{Name: healthDatabase, Check: probe.ping}
}

func newHealth(cfg Config, m *observability.Metrics, log *zap.Logger, checks []HealthCheck) (*query.Health, error) {
	byName := make(map[string]query.HealthCheck, len(checks))
	for _, c := range checks {
		if _, dup := byName[c.Name]; dup {
			return nil, fmt.Errorf("two health checks named %q", c.Name)
		}
		byName[c.Name] = c.Check
	}
	hc := query.HealthChecks{
		Database:      byName[healthDatabase],
		NATS:          byName[healthNATS],
		Search:        byName[healthSearch],
		SearchBackend: cfg.Search.Backend,
	}
	for name, c := range map[string]query.HealthCheck{healthDatabase: hc.Database, healthNATS: hc.NATS, healthSearch: hc.Search} {
		if c == nil {
			return nil, fmt.Errorf("no %q health check provided", name)
		}
	}
	return query.NewHealth(hc, m, query.DefaultHealthCheckTimeout, log.Named("health")), nil
}
