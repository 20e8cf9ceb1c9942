package bootstrap

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"go.uber.org/fx"

	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports/porttest"
)

// TestHealthTellsABusyPoolFromADatabaseThatIsDown takes every connection
// of the server's pool: /health still says the database is up (it
// answers), with the pool in full use, and /health/ready stays 200 (issue
// 19: the ping waited for a pool connection and /health said 503, which
// makes a load balancer eject a working instance). Then the database stops
// taking connections: that is down.
func TestHealthTellsABusyPoolFromADatabaseThatIsDown(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	name, err := postgres.DatabaseName(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var db *bun.DB
	s := startServerWith(t, []fx.Option{fx.Populate(&db)}, "DATABASE_URL="+dsn, "FECHATTER_DATABASE_MAX_OPEN_CONNS=3")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var held []bun.Conn
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	for range 3 {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	var rep query.HealthReport
	started := time.Now()
	s.call(t, 200, "GET", "/health", "", nil, &rep)
	if rep.Status != query.HealthHealthy || rep.DatabaseStatus != query.DependencyUp || rep.DatabasePoolUsage != 1 {
		t.Fatalf("with the pool exhausted /health says %+v; want healthy, database up, pool usage 1", rep)
	}
	s.call(t, 200, "GET", "/health/ready", "", nil, nil)
	if took := time.Since(started); took > 5*time.Second {
		t.Errorf("the checks took %s with the pool exhausted: they waited for it", took)
	}

	// The database refuses connections (ALLOW_CONNECTIONS false binds
	// superusers too) and the probe's are cut: down.
	admin, err := postgres.WithDatabase(dsn, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	adb, err := postgres.Open(ctx, admin, postgres.WithMaxOpenConns(1))
	if err != nil {
		t.Fatal(err)
	}
	defer adb.Close()
	if _, err := adb.ExecContext(ctx, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = adb.ExecContext(context.Background(), "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true") }()
	if _, err := adb.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ? AND application_name = 'fechatter-health'", name); err != nil {
		t.Fatal(err)
	}
	s.call(t, 503, "GET", "/health", "", nil, &rep)
	if rep.Status != query.HealthUnhealthy || rep.DatabaseStatus != query.DependencyDown {
		t.Fatalf("with the database refusing connections /health says %+v; want unhealthy, database down", rep)
	}
	s.call(t, 503, "GET", "/health/ready", "", nil, nil)

	if _, err := adb.ExecContext(ctx, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true"); err != nil {
		t.Fatal(err)
	}
	porttest.Eventually(t, 10*time.Second, "/health to say the database is up again", func() bool {
		resp, err := s.hc.Get(s.base + "/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var r query.HealthReport
		return json.NewDecoder(resp.Body).Decode(&r) == nil && resp.StatusCode == 200 && r.DatabaseStatus == query.DependencyUp
	})
}
