package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/query"
)

type fixedFigures struct{}

func (fixedFigures) DatabasePoolUsage() float64 { return 0.25 }
func (fixedFigures) MemoryUsageBytes() uint64   { return 64 << 20 }
func (fixedFigures) Uptime() time.Duration      { return 90*time.Second + 700*time.Millisecond }
func (fixedFigures) MessageMetrics() query.MessageMetrics {
	return query.MessageMetrics{MessagesPerSecond: 2.5, AvgProcessingTimeMs: 4, SearchIndexLagMs: 300, ActiveUsers: 7}
}

func check(err error) query.HealthCheck {
	return func(context.Context) error { return err }
}

func TestHealthStatusFollowsTheDependencies(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	tests := []struct {
		name                 string
		database, nats, srch error
		status               string
		serving              bool
		db, nc, search       string
	}{
		{"all up", nil, nil, nil, query.HealthHealthy, true, "up", "up", "up"},
		{"search down", nil, nil, down, query.HealthDegraded, true, "up", "up", "down"},
		{"nats down", nil, down, nil, query.HealthUnhealthy, false, "up", "down", "up"},
		{"database down", down, nil, nil, query.HealthUnhealthy, false, "down", "up", "up"},
		{"everything down", down, down, down, query.HealthUnhealthy, false, "down", "down", "down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := query.NewHealth(query.HealthChecks{Database: check(tt.database), NATS: check(tt.nats), Search: check(tt.srch),
				SearchBackend: "bleve"}, fixedFigures{}, 0, nil)
			r := h.Handle(context.Background())
			want := query.HealthReport{Status: tt.status, DatabaseStatus: tt.db, NATSConnectionStatus: tt.nc, SearchStatus: tt.search,
				SearchBackend: "bleve", DatabasePoolUsage: 0.25, MemoryUsageBytes: 64 << 20, UptimeSeconds: 90,
				Metrics: fixedFigures{}.MessageMetrics()}
			if r != want {
				t.Fatalf("report = %+v\nwant     %+v", r, want)
			}
			if r.Serving() != tt.serving {
				t.Fatalf("Serving = %v, want %v", r.Serving(), tt.serving)
			}
		})
	}
}

func TestHealthReportIsTheJSONOfAPIMd(t *testing.T) {
	t.Parallel()
	h := query.NewHealth(query.HealthChecks{Database: check(nil), NATS: check(nil), Search: check(nil), SearchBackend: "meili"}, fixedFigures{}, 0, nil)
	raw, err := json.Marshal(h.Handle(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal(raw, &got)
	keys := func(m map[string]any) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	want := []string{"database_pool_usage", "database_status", "memory_usage_bytes", "metrics", "nats_connection_status",
		"search_backend", "search_status", "status", "uptime_seconds"}
	if !reflect.DeepEqual(keys(got), want) {
		t.Fatalf("keys %v, want %v", keys(got), want)
	}
	metrics, _ := got["metrics"].(map[string]any)
	wantMetrics := []string{"active_users", "avg_processing_time_ms", "messages_per_second", "search_index_lag_ms"}
	if !reflect.DeepEqual(keys(metrics), wantMetrics) {
		t.Fatalf("metrics keys %v, want %v", keys(metrics), wantMetrics)
	}
}

// The checks run at the same time: each of these waits until the other
// two have started, which never happens if they run one after another
// (the report would then say down when the timeout ends).
func TestHealthRunsTheChecksConcurrently(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 3)
	rendezvous := func(ctx context.Context) error {
		started <- struct{}{}
		for len(started) < 3 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		return nil
	}
	h := query.NewHealth(query.HealthChecks{Database: rendezvous, NATS: rendezvous, Search: rendezvous}, fixedFigures{}, time.Minute, nil)
	if r := h.Handle(context.Background()); r.Status != query.HealthHealthy {
		t.Fatalf("report = %+v, want healthy: the checks did not run concurrently", r)
	}
}

// A check that hangs, even one that ignores its context, is down once the
// timeout has passed, and holds up neither the report nor the others.
func TestHealthTimesOutAHangingCheck(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	hang := func(context.Context) error { <-release; return nil }
	// A timeout long enough for the checks that answer at once to be
	// scheduled on a loaded machine (20 ms was not, under -race in CI).
	h := query.NewHealth(query.HealthChecks{Database: check(nil), NATS: check(nil), Search: hang}, fixedFigures{}, time.Second, nil)
	r := h.Handle(context.Background())
	if r.Status != query.HealthDegraded || r.SearchStatus != query.DependencyDown || r.DatabaseStatus != query.DependencyUp {
		t.Fatalf("report = %+v, want degraded with search down", r)
	}
}

func TestHealthSurvivesAPanickingCheck(t *testing.T) {
	t.Parallel()
	boom := func(context.Context) error { panic("boom") }
	h := query.NewHealth(query.HealthChecks{Database: check(nil), NATS: boom, Search: check(nil)}, fixedFigures{}, time.Minute, nil)
	if r := h.Handle(context.Background()); r.Status != query.HealthUnhealthy || r.NATSConnectionStatus != query.DependencyDown {
		t.Fatalf("report = %+v, want unhealthy with nats down", r)
	}
}

func TestNewHealthRefusesMissingChecks(t *testing.T) {
	t.Parallel()
	ok := check(nil)
	for name, f := range map[string]func(){
		"no database": func() { query.NewHealth(query.HealthChecks{NATS: ok, Search: ok}, fixedFigures{}, 0, nil) },
		"no nats":     func() { query.NewHealth(query.HealthChecks{Database: ok, Search: ok}, fixedFigures{}, 0, nil) },
		"no search":   func() { query.NewHealth(query.HealthChecks{Database: ok, NATS: ok}, fixedFigures{}, 0, nil) },
		"no figures":  func() { query.NewHealth(query.HealthChecks{Database: ok, NATS: ok, Search: ok}, nil, 0, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		})
	}
}
