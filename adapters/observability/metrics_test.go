package observability_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/observability"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// clock is a settable time for the sliding windows.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 25, 19, 0, 0, 0, time.UTC)} }

// scrape serves /metrics once and returns the text.
func scrape(t *testing.T, m *observability.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics = %d: %s", rec.Code, rec.Body)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// hasLine reports whether the exposition has exactly this sample line.
func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

func mustHaveLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !hasLine(text, l) {
			t.Errorf("no line %q in\n%s", l, grepFechatter(text))
		}
	}
}

func grepFechatter(text string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "fechatter_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestSendsAreCountedByOutcome(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := observability.New(observability.Options{Now: c.Now})
	m.SendHandled(2*time.Millisecond, false, nil)
	m.SendHandled(4*time.Millisecond, false, nil)
	m.SendHandled(time.Millisecond, true, nil)
	m.SendHandled(time.Millisecond, false, errs.RateLimitedf(time.Second, "slow down"))
	text := scrape(t, m)
	mustHaveLines(t, text,
		`fechatter_messages_sent_total 2`,
		`fechatter_message_send_duration_seconds_count{outcome="created"} 2`,
		`fechatter_message_send_duration_seconds_count{outcome="replay"} 1`,
		`fechatter_message_send_duration_seconds_count{outcome="rate_limited"} 1`,
	)
}

func TestMessageMetricsSlideOverTheLastMinute(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := observability.New(observability.Options{Now: c.Now})
	c.Add(2 * time.Minute) // older than a minute: rates are over 60s
	for range 30 {
		m.SendHandled(10*time.Millisecond, false, nil)
	}
	c.Add(30 * time.Second)
	for range 30 {
		m.SendHandled(20*time.Millisecond, false, nil)
	}
	mm := m.MessageMetrics()
	if mm.MessagesPerSecond != 1 || mm.AvgProcessingTimeMs != 15 {
		t.Fatalf("metrics = %+v, want 60 sends in the minute (1/s) averaging 15ms", mm)
	}
	c.Add(45 * time.Second) // the first 30 leave the window
	if mm := m.MessageMetrics(); mm.MessagesPerSecond != 0.5 || mm.AvgProcessingTimeMs != 20 {
		t.Fatalf("metrics = %+v, want 30 sends in the minute (0.5/s) averaging 20ms", mm)
	}
	c.Add(time.Minute)
	if mm := m.MessageMetrics(); mm.MessagesPerSecond != 0 || mm.AvgProcessingTimeMs != 0 {
		t.Fatalf("metrics = %+v, want nothing after a quiet minute", mm)
	}
}

func TestMessageRateOfAYoungProcessIsOverItsAge(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := observability.New(observability.Options{Now: c.Now})
	c.Add(10 * time.Second)
	for range 20 {
		m.SendHandled(time.Millisecond, false, nil)
	}
	if got := m.MessageMetrics().MessagesPerSecond; got != 2 {
		t.Fatalf("rate = %v, want 20 sends / 10s of uptime = 2", got)
	}
	if got := m.Uptime(); got != 10*time.Second {
		t.Fatalf("uptime = %v", got)
	}
}

func TestActiveUsersAreRecentAuthenticatedCallersUntilTheGatewayReports(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := observability.New(observability.Options{Now: c.Now})
	m.RequestServed("GET", "/api/v1/chats", 200, time.Millisecond, 1)
	m.RequestServed("GET", "/api/v1/chats", 200, time.Millisecond, 2)
	m.RequestServed("GET", "/api/v1/chats", 200, time.Millisecond, 2)
	m.RequestServed("POST", "/api/v1/auth/signin", 401, time.Millisecond, 0) // anonymous
	if got := m.ActiveUsers(); got != 2 {
		t.Fatalf("active users = %d, want 2", got)
	}
	c.Add(4 * time.Minute)
	m.RequestServed("GET", "/api/v1/chats", 200, time.Millisecond, 2)
	c.Add(90 * time.Second) // user 1 idle for 5m30s, user 2 for 1m30s
	if got := m.ActiveUsers(); got != 1 {
		t.Fatalf("active users = %d, want 1 after user 1 was idle 5 minutes", got)
	}
	mustHaveLines(t, scrape(t, m), `fechatter_active_users 1`, `fechatter_websocket_connections 0`)

	m.WatchConnections(func() (int, int) { return 5, 3 })
	if got := m.MessageMetrics().ActiveUsers; got != 3 {
		t.Fatalf("active users = %d, want the gateway's 3", got)
	}
	mustHaveLines(t, scrape(t, m), `fechatter_active_users 3`, `fechatter_websocket_connections 5`)
}

func TestHTTPRequestsAreLabelledByRoutePattern(t *testing.T) {
	t.Parallel()
	m := observability.New(observability.Options{})
	m.RequestServed("POST", "/api/v1/chats/:id/messages", 201, 3*time.Millisecond, 1)
	m.RequestServed("POST", "/api/v1/chats/:id/messages", 201, 3*time.Millisecond, 1)
	m.RequestServed("POST", "/api/v1/chats/:id/messages", 404, time.Millisecond, 1)
	mustHaveLines(t, scrape(t, m),
		`fechatter_http_requests_total{method="POST",route="/api/v1/chats/:id/messages",status="201"} 2`,
		`fechatter_http_requests_total{method="POST",route="/api/v1/chats/:id/messages",status="404"} 1`,
		`fechatter_http_request_duration_seconds_count{method="POST",route="/api/v1/chats/:id/messages"} 3`,
	)
}

type failingIndex struct {
	ports.SearchIndex
	fail bool
}

func (f *failingIndex) Upsert(ctx context.Context, docs []ports.SearchDocument) error {
	if f.fail {
		return errors.New("index down")
	}
	return f.SearchIndex.Upsert(ctx, docs)
}

func TestIndexWritesLagAndFailuresAreCounted(t *testing.T) {
	t.Parallel()
	m := observability.New(observability.Options{})
	inner := &failingIndex{SearchIndex: memory.NewSearchIndex()}
	idx := m.InstrumentSearchIndex(inner)
	ctx := context.Background()
	docs := []ports.SearchDocument{{ID: 1, ChatID: 1, Content: "a"}, {ID: 2, ChatID: 1, Content: "b"}}
	if err := idx.Upsert(ctx, docs); err != nil {
		t.Fatal(err)
	}
	inner.fail = true
	if err := idx.Upsert(ctx, docs); err == nil {
		t.Fatal("the failure did not pass through")
	}
	if err := idx.Delete(ctx, []int64{1}); err != nil {
		t.Fatal(err)
	}
	if err := idx.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	m.ObserveIndexLag(300 * time.Millisecond)
	m.ObserveIndexLag(700 * time.Millisecond)
	mustHaveLines(t, scrape(t, m),
		`fechatter_search_index_writes_total{op="upsert"} 2`,
		`fechatter_search_index_write_failures_total{op="upsert"} 1`,
		`fechatter_search_index_documents_total{op="upsert"} 2`,
		`fechatter_search_index_writes_total{op="delete"} 1`,
		`fechatter_search_index_documents_total{op="delete"} 1`,
		`fechatter_search_index_lag_seconds_count 2`,
		`fechatter_search_index_lag_seconds_bucket{le="0.5"} 1`,
	)
	if got := m.MessageMetrics().SearchIndexLagMs; got != 700 {
		t.Fatalf("lag = %vms, want the last observed, 700", got)
	}
	m.WatchIndexLag(func() time.Duration { return 1200 * time.Millisecond })
	if got := m.MessageMetrics().SearchIndexLagMs; got != 1200 {
		t.Fatalf("lag = %vms, want the indexer's own, 1200", got)
	}
}

func TestOutboxBacklogIsCountedAtEachScrape(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	n, fail := 3, false
	m := observability.New(observability.Options{OutboxBacklog: func(context.Context) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return 0, errors.New("database down")
		}
		return n, nil
	}})
	mustHaveLines(t, scrape(t, m), `fechatter_outbox_backlog 3`)
	mu.Lock()
	n = 0
	mu.Unlock()
	mustHaveLines(t, scrape(t, m), `fechatter_outbox_backlog 0`)

	mu.Lock()
	fail = true
	mu.Unlock()
	m.SendHandled(time.Millisecond, false, nil)
	text := scrape(t, m) // still 200, with everything but the backlog
	if strings.Contains(text, "fechatter_outbox_backlog ") {
		t.Errorf("a backlog that could not be counted is reported:\n%s", grepFechatter(text))
	}
	mustHaveLines(t, text, `fechatter_messages_sent_total 1`)
}

func TestRuntimeFiguresAndCollectors(t *testing.T) {
	t.Parallel()
	m := observability.New(observability.Options{})
	if m.MemoryUsageBytes() == 0 {
		t.Error("memory usage is 0")
	}
	if got := m.DatabasePoolUsage(); got != 0 {
		t.Errorf("pool usage without a pool = %v", got)
	}
	text := scrape(t, m)
	for _, name := range []string{"go_goroutines ", "go_memstats_alloc_bytes "} {
		if !strings.Contains(text, "\n"+name) {
			t.Errorf("no %s in the exposition", name)
		}
	}
}
