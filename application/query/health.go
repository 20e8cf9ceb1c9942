package query

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Service statuses of a health report.
const (
	HealthHealthy   = "healthy"   // every dependency answers
	HealthDegraded  = "degraded"  // search is down; chat works
	HealthUnhealthy = "unhealthy" // the database or NATS is down
)

// Dependency statuses of a health report.
const (
	DependencyUp   = "up"
	DependencyDown = "down"
)

// DefaultHealthCheckTimeout bounds each dependency check of a report.
const DefaultHealthCheckTimeout = time.Second

// HealthCheck tells whether one dependency answers; nil means it does. It
// must return once ctx is done.
type HealthCheck func(ctx context.Context) error

// HealthChecks are the dependencies a health report probes. The database
// and NATS are critical (without them nothing is sent or delivered);
// search only degrades the service.
type HealthChecks struct {
	Database      HealthCheck
	NATS          HealthCheck
	Search        HealthCheck
	SearchBackend string // "bleve", "meili", ...: reported as is
}

// HealthFigures are the live figures a health report carries. They come
// from counters kept elsewhere (metrics), never computed by the query.
type HealthFigures interface {
	// DatabasePoolUsage is the share of the connection pool in use, 0..1.
	DatabasePoolUsage() float64
	// MemoryUsageBytes is the memory the process holds.
	MemoryUsageBytes() uint64
	// Uptime is how long the service has been running.
	Uptime() time.Duration
	// MessageMetrics are the recent traffic figures.
	MessageMetrics() MessageMetrics
}

// MessageMetrics are the traffic figures of a health report.
type MessageMetrics struct {
	// MessagesPerSecond is the rate of messages sent over the last minute.
	MessagesPerSecond float64 `json:"messages_per_second"`
	// AvgProcessingTimeMs is the mean time to handle a send (commit
	// included) over the last minute; 0 without sends.
	AvgProcessingTimeMs float64 `json:"avg_processing_time_ms"`
	// SearchIndexLagMs is the largest lag of the last batch the search
	// indexer wrote: from a message's change to its being searchable.
	SearchIndexLagMs float64 `json:"search_index_lag_ms"`
	// ActiveUsers counts the distinct users connected over WebSocket to
	// this instance, or, where no gateway reports connections, the distinct
	// users who made an authenticated request in the last 5 minutes.
	ActiveUsers int `json:"active_users"`
}

// HealthReport is the answer of GET /health.
type HealthReport struct {
	Status               string         `json:"status"`
	DatabaseStatus       string         `json:"database_status"`
	NATSConnectionStatus string         `json:"nats_connection_status"`
	SearchStatus         string         `json:"search_status"`
	SearchBackend        string         `json:"search_backend"`
	DatabasePoolUsage    float64        `json:"database_pool_usage"`
	MemoryUsageBytes     uint64         `json:"memory_usage_bytes"`
	UptimeSeconds        int64          `json:"uptime_seconds"`
	Metrics              MessageMetrics `json:"metrics"`
}

// Serving reports whether the service can do its job (healthy or
// degraded), which is when a load balancer should keep sending traffic.
func (r HealthReport) Serving() bool { return r.Status != HealthUnhealthy }

// Health answers GET /health: it probes the dependencies concurrently,
// each under a timeout, and adds the live figures.
type Health struct {
	checks  HealthChecks
	figures HealthFigures
	timeout time.Duration
	log     *zap.Logger

	mu   sync.Mutex
	down map[string]bool // last known state per dependency, to log changes once
}

// NewHealth builds the handler. timeout bounds each check (0 means
// DefaultHealthCheckTimeout); a nil log discards logs.
func NewHealth(checks HealthChecks, figures HealthFigures, timeout time.Duration, log *zap.Logger) *Health {
	if checks.Database == nil || checks.NATS == nil || checks.Search == nil {
		panic("query: NewHealth needs the database, NATS and search checks")
	}
	mustHave(figures)
	if timeout <= 0 {
		timeout = DefaultHealthCheckTimeout
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Health{checks: checks, figures: figures, timeout: timeout, log: log, down: map[string]bool{}}
}

// Handle probes and reports. It takes at most the check timeout.
func (h *Health) Handle(ctx context.Context) HealthReport {
	probes := []struct {
		name  string
		check HealthCheck
	}{{"database", h.checks.Database}, {"nats", h.checks.NATS}, {"search", h.checks.Search}}
	results := make([]error, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Go(func() { results[i] = h.probe(ctx, p.check) })
	}
	wg.Wait()
	for i, p := range probes {
		h.noteChange(p.name, results[i])
	}

	r := HealthReport{
		Status:               HealthHealthy,
		DatabaseStatus:       statusOf(results[0]),
		NATSConnectionStatus: statusOf(results[1]),
		SearchStatus:         statusOf(results[2]),
		SearchBackend:        h.checks.SearchBackend,
		DatabasePoolUsage:    h.figures.DatabasePoolUsage(),
		MemoryUsageBytes:     h.figures.MemoryUsageBytes(),
		UptimeSeconds:        int64(h.figures.Uptime() / time.Second),
		Metrics:              h.figures.MessageMetrics(),
	}
	switch {
	case results[0] != nil || results[1] != nil:
		r.Status = HealthUnhealthy
	case results[2] != nil:
		r.Status = HealthDegraded
	}
	return r
}

// probe runs one check under the timeout. A check that overruns it counts
// as down even if it ignores ctx (its goroutine finishes on its own).
func (h *Health) probe(ctx context.Context, check HealthCheck) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- errors.New("health check panicked")
			}
		}()
		done <- check(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// noteChange logs a dependency going down or coming back, once per change,
// so that a load balancer polling /health does not flood the log.
func (h *Health) noteChange(name string, err error) {
	h.mu.Lock()
	was := h.down[name]
	h.down[name] = err != nil
	h.mu.Unlock()
	switch {
	case err != nil && !was:
		h.log.Warn("health: dependency down", zap.String("dependency", name), zap.Error(err))
	case err == nil && was:
		h.log.Info("health: dependency up again", zap.String("dependency", name))
	}
}

func statusOf(err error) string {
	if err != nil {
		return DependencyDown
	}
	return DependencyUp
}
