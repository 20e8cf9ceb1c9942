package http_test

import (
	"context"
	"errors"
	"fmt"
	nethttp "net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	httpadapter "github.com/fechatter/fechatter/adapters/http"
	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/application/query"
)

// switchable is a dependency a test takes down and brings back.
type switchable struct{ down atomic.Bool }

func (s *switchable) check(context.Context) error {
	if s.down.Load() {
		return errors.New("connection refused")
	}
	return nil
}

type someFigures struct{}

func (someFigures) DatabasePoolUsage() float64 { return 0.1 }
func (someFigures) MemoryUsageBytes() uint64   { return 1 << 20 }
func (someFigures) Uptime() time.Duration      { return time.Minute }
func (someFigures) MessageMetrics() query.MessageMetrics {
	return query.MessageMetrics{MessagesPerSecond: 1, ActiveUsers: 2}
}

type served struct {
	method, route string
	status        int
	userID        int64
}

// requests records what the server reports of each request.
type requests struct {
	mu   sync.Mutex
	seen []served
}

func (r *requests) RequestServed(method, route string, status int, _ time.Duration, userID int64) {
	r.mu.Lock()
	r.seen = append(r.seen, served{method, route, status, userID})
	r.mu.Unlock()
}

func (r *requests) last() served {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[len(r.seen)-1]
}

type observedServer struct {
	*harness
	db, nats, search switchable
	requests         *requests
	logs             *observer.ObservedLogs
}

func newObservedServer(t *testing.T) *observedServer {
	t.Helper()
	o := &observedServer{requests: &requests{}}
	core, logs := observer.New(zapcore.DebugLevel)
	o.logs = logs
	health := query.NewHealth(query.HealthChecks{Database: o.db.check, NATS: o.nats.check, Search: o.search.check, SearchBackend: "memory"},
		someFigures{}, time.Second, nil)
	metrics := nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "fechatter_up 1")
	})
	env := memapp.New(memapp.Options{})
	srv := httpadapter.NewServer(env.App, env.Tokens, zap.New(core), httpadapter.Options{Health: health, Metrics: metrics, Requests: o.requests})
	srv.NotFound()
	o.harness = &harness{t: t, env: env, srv: srv}
	return o
}

func TestHealthAnswersByDependency(t *testing.T) {
	t.Parallel()
	s := newObservedServer(t)
	get := func(want int) query.HealthReport {
		t.Helper()
		var r query.HealthReport
		rep := s.must(want, "GET", "/health", "", nil, &r)
		if cc := rep.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
		return r
	}
	if r := get(200); r.Status != "healthy" || r.DatabaseStatus != "up" || r.NATSConnectionStatus != "up" || r.SearchStatus != "up" ||
		r.SearchBackend != "memory" || r.UptimeSeconds != 60 || r.Metrics.ActiveUsers != 2 {
		t.Fatalf("all up: %+v", r)
	}

	s.search.down.Store(true)
	if r := get(200); r.Status != "degraded" || r.SearchStatus != "down" {
		t.Fatalf("search down: %+v", r)
	}
	s.nats.down.Store(true)
	if r := get(503); r.Status != "unhealthy" || r.NATSConnectionStatus != "down" || r.SearchStatus != "down" {
		t.Fatalf("nats and search down: %+v", r)
	}
	s.search.down.Store(false)
	s.nats.down.Store(false)
	s.db.down.Store(true)
	if r := get(503); r.Status != "unhealthy" || r.DatabaseStatus != "down" || r.NATSConnectionStatus != "up" {
		t.Fatalf("database down: %+v", r)
	}
	s.db.down.Store(false)
	if r := get(200); r.Status != "healthy" {
		t.Fatalf("back up: %+v", r)
	}
}

func TestHealthWithoutAReporterIsUnavailable(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var r struct{ Status string }
	if h.must(503, "GET", "/health", "", nil, &r); r.Status != "unhealthy" {
		t.Fatalf("status %q", r.Status)
	}
	if code := h.must(404, "GET", "/metrics", "", nil, nil).errCode(t); code != "not_found" {
		t.Fatalf("code %q", code)
	}
}

func TestMetricsServesTheHandler(t *testing.T) {
	t.Parallel()
	s := newObservedServer(t)
	r := s.must(200, "GET", "/metrics", "", nil, nil)
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") || !strings.Contains(string(r.raw), "fechatter_up 1") {
		t.Fatalf("/metrics: %s %q", r.header.Get("Content-Type"), r.raw)
	}
}

func TestRequestsAreReportedByRoutePattern(t *testing.T) {
	t.Parallel()
	s := newObservedServer(t)
	owner, members := s.team(1)
	c := s.createChat(owner, "group", "metrics", members[0])
	s.send(owner, c.ID, "hello")
	if got, want := s.requests.last(), (served{"POST", "/api/v1/chats/:id/messages", 201, owner.ID}); got != want {
		t.Fatalf("reported %+v, want %+v", got, want)
	}
	s.must(404, "GET", fmt.Sprintf("/api/v1/chats/%d/messages/99", c.ID), owner.Token, nil, nil)
	if got, want := s.requests.last(), (served{"GET", "/api/v1/chats/:id/messages/:seq", 404, owner.ID}); got != want {
		t.Fatalf("reported %+v, want %+v", got, want)
	}
	s.must(401, "GET", "/api/v1/chats", "", nil, nil)
	if got, want := s.requests.last(), (served{"GET", "/api/v1/chats", 401, 0}); got != want {
		t.Fatalf("reported %+v, want %+v", got, want)
	}
	// A path no route takes is not a label of its own.
	s.must(404, "GET", "/no/such/path/12345", "", nil, nil)
	if got, want := s.requests.last(), (served{"GET", httpadapter.UnmatchedRoute, 404, 0}); got != want {
		t.Fatalf("reported %+v, want %+v", got, want)
	}
	s.must(200, "GET", "/health", "", nil, nil)
	if got := s.requests.last(); got.route != "/health" {
		t.Fatalf("reported %+v", got)
	}
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRequestIDIsKeptWhenSaneAndLogged(t *testing.T) {
	t.Parallel()
	s := newObservedServer(t)
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{"none sent", "", false},
		{"sane", "trace-abc_123-XYZ", true},
		{"64 characters", strings.Repeat("a", 64), true},
		{"65 characters", strings.Repeat("a", 65), false},
		{"a space", "abc def", false},
		{"a newline-like escape", "abc%0d%0aevil", false},
		{"non-ASCII", "idé", false},
		{"a slash", "a/b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/health/live", nil)
			if tt.sent != "" {
				req.Header.Set("X-Request-Id", tt.sent)
			}
			resp, err := s.srv.Fiber().Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get("X-Request-Id")
			if tt.kept && got != tt.sent {
				t.Fatalf("X-Request-Id %q, want the client's %q", got, tt.sent)
			}
			if !tt.kept && !generatedID.MatchString(got) {
				t.Fatalf("X-Request-Id %q, want a fresh UUID instead of %q", got, tt.sent)
			}
			logged := s.logs.FilterMessage("request").FilterField(zap.String("request_id", got)).Len()
			if logged != 1 {
				t.Fatalf("%d request log entries with request_id %q, want 1", logged, got)
			}
		})
	}
}

func TestOpenAPIListsHealthAndMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	h.must(200, "GET", "/openapi.json", "", nil, &doc)
	for _, p := range []string{"/health", "/metrics", "/health/live", "/health/ready"} {
		if _, ok := doc.Paths[p]["get"]; !ok {
			t.Errorf("openapi.json lacks GET %s", p)
		}
	}
	if _, ok := doc.Paths["/health"]["get"].Responses["200"]; !ok {
		t.Errorf("GET /health documents no 200: %+v", doc.Paths["/health"])
	}
}

func TestAPanicIsLoggedAndCountedWithItsRequest(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	reqs := &requests{}
	env := memapp.New(memapp.Options{})
	srv := httpadapter.NewServer(env.App, env.Tokens, zap.New(core), httpadapter.Options{Requests: reqs})
	srv.Fiber().Get("/boom", func(*fiber.Ctx) error { panic("boom") })
	srv.NotFound()
	h := &harness{t: t, env: env, srv: srv}
	r := h.must(500, "GET", "/boom", "", nil, nil)
	if code := r.errCode(t); code != "internal" {
		t.Fatalf("code %q", code)
	}
	if got, want := reqs.last(), (served{"GET", "/boom", 500, 0}); got != want {
		t.Fatalf("reported %+v, want %+v", got, want)
	}
	id := r.header.Get("X-Request-Id")
	for _, msg := range []string{"panic in handler", "request"} {
		if n := logs.FilterMessage(msg).FilterField(zap.String("request_id", id)).Len(); n != 1 {
			t.Errorf("%d %q log entries with request_id %q, want 1", n, msg, id)
		}
	}
}
