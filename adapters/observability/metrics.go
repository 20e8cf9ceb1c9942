package observability

import (
	"context"
	"database/sql"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
)

// Metric names, for dashboards and tests.
const (
	MetricMessagesSent        = "fechatter_messages_sent_total"
	MetricSendDuration        = "fechatter_message_send_duration_seconds"
	MetricIndexLag            = "fechatter_search_index_lag_seconds"
	MetricIndexWrites         = "fechatter_search_index_writes_total"
	MetricIndexWriteFailures  = "fechatter_search_index_write_failures_total"
	MetricIndexDocuments      = "fechatter_search_index_documents_total"
	MetricActiveUsers         = "fechatter_active_users"
	MetricWebSocketConns      = "fechatter_websocket_connections"
	MetricHTTPRequests        = "fechatter_http_requests_total"
	MetricHTTPRequestDuration = "fechatter_http_request_duration_seconds"
	MetricOutboxBacklog       = "fechatter_outbox_backlog"
	MetricNATSConnected       = "fechatter_nats_connected"
	MetricSlowConsumerCloses  = "fechatter_websocket_slow_consumer_closes_total"
	MetricDeliveries          = "fechatter_websocket_deliveries_total"
)

// DefaultActiveUserSpan is how recent an authenticated request must be for
// its user to count as active while no gateway reports connections.
const DefaultActiveUserSpan = 5 * time.Minute

// backlogTimeout bounds the outbox count made at each scrape.
const backlogTimeout = time.Second

// Options configure Metrics; every field is optional.
type Options struct {
	// DB is the database pool: its stats become go_sql_* metrics (with
	// db_name="fechatter") and the health report's pool usage.
	DB *sql.DB
	// OutboxBacklog counts the events waiting in the outbox; it is asked at
	// each scrape, under a 1s timeout.
	OutboxBacklog func(ctx context.Context) (int, error)
	// ActiveUserSpan: see DefaultActiveUserSpan.
	ActiveUserSpan time.Duration
	// Now is the clock of the sliding windows; nil means time.Now.
	Now func() time.Time
}

// ConnectionStats reports this instance's live WebSocket connections and
// the distinct users behind them.
type ConnectionStats func() (connections, users int)

// Metrics holds the service's instruments on its own registry. It
// implements application.SendObserver and the HTTP adapter's
// RequestObserver, and gives the health report its figures
// (query.HealthFigures). Safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	db      *sql.DB
	now     func() time.Time
	started time.Time

	sent         prometheus.Counter
	sendDuration *prometheus.HistogramVec
	indexLag     prometheus.Histogram
	indexWrites  *prometheus.CounterVec
	indexFails   *prometheus.CounterVec
	indexDocs    *prometheus.CounterVec
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	slowCloses   prometheus.Counter
	deliveries   prometheus.Counter
	natsUp       atomic.Pointer[func() bool]

	sends       window // created messages over the last minute
	recent      *recentUsers
	connections atomic.Pointer[ConnectionStats]
	lagSource   atomic.Pointer[func() time.Duration]
	lastLag     atomic.Int64 // ns, the last lag observed, when there is no source
}

var (
	_ application.SendObserver = (*Metrics)(nil)
	_ query.HealthFigures      = (*Metrics)(nil)
)

// New builds the instruments and registers them, with the Go runtime and
// process collectors, on a fresh registry.
func New(o Options) *Metrics {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ActiveUserSpan <= 0 {
		o.ActiveUserSpan = DefaultActiveUserSpan
	}
	m := &Metrics{
		reg:     prometheus.NewRegistry(),
		db:      o.DB,
		now:     o.Now,
		started: o.Now(),
		recent:  newRecentUsers(o.ActiveUserSpan),

		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricMessagesSent,
			Help: "Messages sent (created; idempotent replays not counted).",
		}),
		sendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricSendDuration,
			Help:    "Time to handle a SendMessage command, commit included, by outcome (created, replay, or the error code).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"outcome"}),
		indexLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    MetricIndexLag,
			Help:    "Time from a message's change to its being searchable, per message event indexed.",
			Buckets: []float64{.05, .1, .25, .5, 1, 1.5, 2.5, 5, 10, 30, 60, 300},
		}),
		indexWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricIndexWrites,
			Help: "Batch writes to the search index by the indexer (each batch makes at most one upsert and one delete), by op.",
		}, []string{"op"}),
		indexFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricIndexWriteFailures,
			Help: "Batch writes to the search index that failed (the batch is retried), by op.",
		}, []string{"op"}),
		indexDocs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricIndexDocuments,
			Help: "Documents written to or removed from the search index, by op.",
		}, []string{"op"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricHTTPRequests,
			Help: "HTTP requests answered, by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricHTTPRequestDuration,
			Help:    "HTTP request latency, by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		slowCloses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricSlowConsumerCloses,
			Help: "WebSocket connections closed with 1008 because the client did not read its frames (send queue full).",
		}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricDeliveries,
			Help: "Event frames queued to local WebSocket connections (one per connection per event).",
		}),
	}
	m.reg.MustRegister(
		m.slowCloses, m.deliveries,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: MetricNATSConnected,
			Help: "1 while this instance's NATS connection is up, 0 while it is disconnected or reconnecting (absent without NATS).",
		}, func() float64 {
			if f := m.natsUp.Load(); f != nil && (*f)() {
				return 1
			}
			return 0
		}),
		m.sent, m.sendDuration, m.indexLag, m.indexWrites, m.indexFails, m.indexDocs, m.httpRequests, m.httpDuration,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: MetricActiveUsers,
			Help: "Distinct users connected over WebSocket; without a gateway, distinct users with an authenticated request in the last 5 minutes.",
		}, func() float64 { return float64(m.ActiveUsers()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: MetricWebSocketConns,
			Help: "Open WebSocket connections on this instance.",
		}, func() float64 { c, _, _ := m.connectionStats(); return float64(c) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// The index ops exist from the start, so a rate or an alert on failures
	// reads 0 rather than nothing before the first one.
	for _, op := range []string{"upsert", "delete"} {
		m.indexWrites.WithLabelValues(op)
		m.indexFails.WithLabelValues(op)
		m.indexDocs.WithLabelValues(op)
	}
	if o.DB != nil {
		m.reg.MustRegister(collectors.NewDBStatsCollector(o.DB, "fechatter"))
	}
	if o.OutboxBacklog != nil {
		m.reg.MustRegister(newBacklogCollector(o.OutboxBacklog))
	}
	return m
}

// Registry is the registry the instruments live on (to add collectors, or
// to gather in tests).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format. A collector
// that fails (the outbox count while the database is down) leaves its
// metric out rather than failing the scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg, // counts its own errors
	})
}

// SendHandled records one SendMessage (application.SendObserver).
func (m *Metrics) SendHandled(took time.Duration, replay bool, err error) {
	outcome := "created"
	switch {
	case err != nil:
		outcome = errs.KindOf(err).String()
	case replay:
		outcome = "replay"
	}
	m.sendDuration.WithLabelValues(outcome).Observe(took.Seconds())
	if outcome == "created" {
		m.sent.Inc()
		m.sends.add(m.now(), took)
	}
}

// RequestServed records one answered HTTP request (the HTTP adapter's
// RequestObserver). route is the route pattern, never the raw path, so the
// label stays bounded; userID is 0 for an anonymous request.
func (m *Metrics) RequestServed(method, route string, status int, took time.Duration, userID int64) {
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(took.Seconds())
	if userID != 0 {
		m.recent.touch(m.now(), userID)
	}
}

// ObserveIndexLag records the index lag of one message event; it is the
// indexer's OnLag hook.
func (m *Metrics) ObserveIndexLag(lag time.Duration) {
	m.indexLag.Observe(lag.Seconds())
	m.lastLag.Store(int64(lag))
}

// WatchIndexLag makes the health report read the indexer's own last lag
// (Indexer.LastLag: the largest of its last batch) instead of the last
// value given to ObserveIndexLag.
func (m *Metrics) WatchIndexLag(lastLag func() time.Duration) {
	m.lagSource.Store(&lastLag)
}

// WatchNATS makes fechatter_nats_connected read the connection's state;
// until it is called the gauge reads 0.
func (m *Metrics) WatchNATS(connected func() bool) { m.natsUp.Store(&connected) }

// SlowConsumerClosed counts one WebSocket closed because its send queue
// was full (for the gateway to call).
func (m *Metrics) SlowConsumerClosed() { m.slowCloses.Inc() }

// Delivered counts n event frames queued to local WebSocket connections
// (for the gateway to call).
func (m *Metrics) Delivered(n int) { m.deliveries.Add(float64(n)) }

// WatchConnections makes the WebSocket gauge and active users read the
// gateway's counts; until it is called, connections are 0 and active users
// are those with an authenticated request in the last 5 minutes.
func (m *Metrics) WatchConnections(stats ConnectionStats) {
	m.connections.Store(&stats)
}

func (m *Metrics) connectionStats() (connections, users int, ok bool) {
	f := m.connections.Load()
	if f == nil {
		return 0, 0, false
	}
	c, u := (*f)()
	return c, u, true
}

// ActiveUsers is the number of active users (see WatchConnections).
func (m *Metrics) ActiveUsers() int {
	if _, users, ok := m.connectionStats(); ok {
		return users
	}
	return m.recent.count(m.now())
}

// DatabasePoolUsage is InUse / MaxOpenConnections of the pool (0 without a
// pool or a limit).
func (m *Metrics) DatabasePoolUsage() float64 {
	if m.db == nil {
		return 0
	}
	s := m.db.Stats()
	if s.MaxOpenConnections <= 0 {
		return 0
	}
	return min(float64(s.InUse)/float64(s.MaxOpenConnections), 1)
}

// MemoryUsageBytes is the memory the Go runtime holds from the operating
// system and has not returned (Sys - HeapReleased): close to the resident
// size of the process.
func (m *Metrics) MemoryUsageBytes() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Sys - ms.HeapReleased
}

// Uptime is the time since New.
func (m *Metrics) Uptime() time.Duration { return m.now().Sub(m.started) }

// MessageMetrics are the health report's traffic figures: sends over the
// last minute (or since start, when younger), their mean handling time,
// the index lag and the active users.
func (m *Metrics) MessageMetrics() query.MessageMetrics {
	now := m.now()
	count, total := m.sends.sum(now)
	span := min(now.Sub(m.started), windowSeconds*time.Second)
	span = max(span, time.Second)
	mm := query.MessageMetrics{
		MessagesPerSecond: float64(count) / span.Seconds(),
		SearchIndexLagMs:  ms(m.indexLagNow()),
		ActiveUsers:       m.ActiveUsers(),
	}
	if count > 0 {
		mm.AvgProcessingTimeMs = ms(total / time.Duration(count))
	}
	return mm
}

func (m *Metrics) indexLagNow() time.Duration {
	if f := m.lagSource.Load(); f != nil {
		return (*f)()
	}
	return time.Duration(m.lastLag.Load())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
