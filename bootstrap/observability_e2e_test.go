package bootstrap

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"go.uber.org/zap"

	natsadapter "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports/porttest"
)

// health asks GET /health.
func (s server) health(t *testing.T) (int, query.HealthReport) {
	t.Helper()
	resp, err := s.hc.Get(s.base + "/health")
	if err != nil {
		t.Fatalf("GET /health: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r query.HealthReport
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("GET /health = %d, not a report: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, r
}

// waitForHealth polls /health until ok says so, or fails after a deadline.
func (s server) waitForHealth(t *testing.T, what string, ok func(status int, r query.HealthReport) bool) query.HealthReport {
	t.Helper()
	var (
		status int
		r      query.HealthReport
	)
	if !porttest.Within(30*time.Second, func() bool { status, r = s.health(t); return ok(status, r) }) {
		t.Fatalf("/health never showed %s; last %d %+v", what, status, r)
	}
	return r
}

func allUp(r query.HealthReport) bool {
	return r.DatabaseStatus == "up" && r.NATSConnectionStatus == "up" && r.SearchStatus == "up"
}

// TestHealthFollowsNATS stops the NATS server under a running Fechatter:
// /health turns unhealthy (503) and /health/ready fails, then both recover
// once NATS is back.
func TestHealthFollowsNATS(t *testing.T) {
	t.Parallel()
	storeDir := t.TempDir()
	ns, err := natsadapter.StartEmbedded(natsadapter.EmbeddedConfig{StoreDir: storeDir}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	port := ns.Port()
	defer func() { ns.Shutdown() }()
	s := startServer(t, "FECHATTER_NATS_MODE=external", "NATS_URL="+ns.ClientURL(),
		"FECHATTER_NATS_STREAM=HEALTH"+strings.ToUpper(porttest.Unique("")), "FECHATTER_NATS_SUBJECT_PREFIX=health"+porttest.Unique(""))

	r := s.waitForHealth(t, "healthy", func(status int, r query.HealthReport) bool {
		return status == 200 && r.Status == "healthy" && allUp(r)
	})
	if r.SearchBackend != "bleve" || r.DatabasePoolUsage < 0 || r.DatabasePoolUsage > 1 || r.MemoryUsageBytes == 0 || r.UptimeSeconds < 0 {
		t.Fatalf("report: %+v", r)
	}

	ns.Shutdown()
	s.waitForHealth(t, "unhealthy with NATS down", func(status int, r query.HealthReport) bool {
		return status == 503 && r.Status == "unhealthy" && r.NATSConnectionStatus == "down" &&
			r.DatabaseStatus == "up" && r.SearchStatus == "up"
	})
	s.call(t, 503, "GET", "/health/ready", "", nil, nil)
	s.call(t, 200, "GET", "/health/live", "", nil, nil)

	ns, err = natsadapter.StartEmbedded(natsadapter.EmbeddedConfig{StoreDir: storeDir, Port: port}, zap.NewNop())
	if err != nil {
		t.Fatalf("restart nats: %v", err)
	}
	s.waitForHealth(t, "healthy again", func(status int, r query.HealthReport) bool {
		return status == 200 && r.Status == "healthy" && allUp(r)
	})
	s.call(t, 200, "GET", "/health/ready", "", nil, nil)
	s.stop() // while NATS is up: this test is about health, not stopping without NATS
}

// fakeMeili answers Meilisearch's GET /health (and 503 to the rest: the
// indexer waits, which this test does not need) on addr, until closed.
func fakeMeili(t *testing.T, addr string) (*http.Server, string) {
	t.Helper()
	var ln net.Listener
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Rebinding the port of a server just closed can race its close.
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/health" {
			fmt.Fprint(w, `{"status":"available"}`)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"message":"not in this fake","code":"unavailable","type":"system","link":""}`)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv, ln.Addr().String()
}

// TestHealthDegradesWithSearch stops the search backend (Meilisearch,
// faked at the HTTP level) under a running Fechatter: /health stays 200 but
// says degraded, and healthy again once the backend is back.
func TestHealthDegradesWithSearch(t *testing.T) {
	t.Parallel()
	meili, addr := fakeMeili(t, "127.0.0.1:0")
	s := startServer(t, "FECHATTER_SEARCH_BACKEND=meili", "MEILI_URL=http://"+addr)

	r := s.waitForHealth(t, "healthy", func(status int, r query.HealthReport) bool {
		return status == 200 && r.Status == "healthy" && allUp(r)
	})
	if r.SearchBackend != "meili" {
		t.Fatalf("search_backend %q", r.SearchBackend)
	}

	if err := meili.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
	s.waitForHealth(t, "degraded with search down", func(status int, r query.HealthReport) bool {
		return status == 200 && r.Status == "degraded" && r.SearchStatus == "down" &&
			r.DatabaseStatus == "up" && r.NATSConnectionStatus == "up"
	})
	s.call(t, 200, "GET", "/health/ready", "", nil, nil) // search is not needed to serve

	fakeMeili(t, addr)
	s.waitForHealth(t, "healthy again", func(status int, r query.HealthReport) bool {
		return status == 200 && r.Status == "healthy" && allUp(r)
	})
}

// scrape reads /metrics.
func (s server) scrape(t *testing.T) string {
	t.Helper()
	resp, err := s.hc.Get(s.base + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	return string(raw)
}

// sample returns the value of one series (name and labels exactly as
// exposed, e.g. `x_total{a="b"}`) in a scrape.
func sample(text, series string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

func fechatterLines(text string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "fechatter_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// waitForMetrics scrapes until ok says so, or fails after a deadline.
func (s server) waitForMetrics(t *testing.T, what string, ok func(text string) bool) string {
	t.Helper()
	var text string
	if !porttest.Within(30*time.Second, func() bool { text = s.scrape(t); return ok(text) }) {
		t.Fatalf("/metrics never showed %s:\n%s", what, fechatterLines(text))
	}
	return text
}

// TestMetricsFollowTraffic sends messages over REST and over a WebSocket
// and watches the counters, histograms and gauges of /metrics move, and
// the figures of /health with them.
func TestMetricsFollowTraffic(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	var alice, bob session
	ws := porttest.Unique("metrics-")
	s.call(t, 201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": porttest.Unique("a") + "@x.test",
		"password": "correct-horse", "fullname": "Alice", "workspace": ws}, &alice)
	var inv struct{ Code string }
	s.call(t, 201, "POST", "/api/v1/workspace/invites", alice.AccessToken, map[string]any{}, &inv)
	s.call(t, 201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": porttest.Unique("b") + "@x.test",
		"password": "correct-horse", "fullname": "Bob", "workspace": ws, "invite_code": inv.Code}, &bob)
	var chat struct{ ID int64 }
	s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "group", "name": "counted", "member_ids": []int64{bob.User.ID}}, &chat)
	msgs := fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID)

	before := s.scrape(t)
	if v, ok := sample(before, "fechatter_messages_sent_total"); !ok || v != 0 {
		t.Fatalf("messages sent before any send: %v %v\n%s", v, ok, fechatterLines(before))
	}
	for i := range 3 {
		s.call(t, 201, "POST", msgs, alice.AccessToken, map[string]any{"content": "counted " + strconv.Itoa(i)}, nil)
	}
	s.call(t, 201, "POST", msgs, bob.AccessToken, map[string]any{"content": "once", "idempotency_key": "k1"}, nil)
	s.call(t, 200, "POST", msgs, bob.AccessToken, map[string]any{"content": "once", "idempotency_key": "k1"}, nil)
	s.call(t, 404, "GET", msgs+"/99", alice.AccessToken, nil, nil)
	s.call(t, 404, "GET", "/no/such/route/42", "", nil, nil)

	// Counted before each answer went out: no waiting needed.
	text := s.scrape(t)
	for series, want := range map[string]float64{
		`fechatter_messages_sent_total`:                                                                    4,
		`fechatter_message_send_duration_seconds_count{outcome="created"}`:                                 4,
		`fechatter_message_send_duration_seconds_count{outcome="replay"}`:                                  1,
		`fechatter_http_requests_total{method="POST",route="/api/v1/chats/:id/messages",status="201"}`:     4,
		`fechatter_http_requests_total{method="POST",route="/api/v1/chats/:id/messages",status="200"}`:     1,
		`fechatter_http_requests_total{method="GET",route="/api/v1/chats/:id/messages/:seq",status="404"}`: 1,
		`fechatter_http_requests_total{method="GET",route="unmatched",status="404"}`:                       1,
		`fechatter_http_request_duration_seconds_count{method="POST",route="/api/v1/chats/:id/messages"}`:  5,
		`go_sql_max_open_connections{db_name="fechatter"}`:                                                 16,
	} {
		if got, ok := sample(text, series); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	for _, series := range []string{"go_goroutines", "process_cpu_seconds_total", `go_sql_in_use_connections{db_name="fechatter"}`, "fechatter_websocket_connections"} {
		if _, ok := sample(text, series); !ok {
			t.Errorf("no %s", series)
		}
	}
	if strings.Contains(text, "/no/such/route") {
		t.Error("a raw path became a label")
	}

	// Asynchronous: the relay empties the outbox, the indexer indexes.
	text = s.waitForMetrics(t, "the 4 messages indexed and the outbox empty", func(text string) bool {
		lag, _ := sample(text, "fechatter_search_index_lag_seconds_count")
		docs, _ := sample(text, `fechatter_search_index_documents_total{op="upsert"}`)
		backlog, ok := sample(text, "fechatter_outbox_backlog")
		return lag >= 4 && docs >= 4 && ok && backlog == 0
	})
	if w, _ := sample(text, `fechatter_search_index_writes_total{op="upsert"}`); w < 1 {
		t.Errorf("index writes %v", w)
	}
	if f, ok := sample(text, `fechatter_search_index_write_failures_total{op="upsert"}`); ok && f != 0 {
		t.Errorf("index write failures %v", f)
	}

	_, r := s.health(t)
	if m := r.Metrics; m.MessagesPerSecond <= 0 || m.AvgProcessingTimeMs <= 0 || m.SearchIndexLagMs <= 0 || m.ActiveUsers != 0 {
		t.Errorf("health metrics %+v: want sends, a lag, and no one connected", m)
	}

	// Bob connects: one WebSocket, one active user.
	url := strings.Replace(s.base, "http://", "ws://", 1) + "/api/v1/ws?platform=test&access_token=" + bob.AccessToken
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	var hello struct{ Type string }
	if err := conn.ReadJSON(&hello); err != nil || hello.Type != "hello" {
		t.Fatalf("hello: %+v %v", hello, err)
	}
	s.waitForMetrics(t, "bob's connection", func(text string) bool {
		c, _ := sample(text, "fechatter_websocket_connections")
		u, _ := sample(text, "fechatter_active_users")
		return c == 1 && u == 1
	})
	if _, r := s.health(t); r.Metrics.ActiveUsers != 1 {
		t.Errorf("health active_users %d, want 1", r.Metrics.ActiveUsers)
	}
	// A send over the WebSocket goes through the same decorated handler.
	if err := conn.WriteJSON(map[string]any{"type": "message.send", "ref": "r1", "chat_id": chat.ID, "content": "over ws"}); err != nil {
		t.Fatal(err)
	}
	s.waitForMetrics(t, "the WebSocket send", func(text string) bool {
		v, _ := sample(text, "fechatter_messages_sent_total")
		return v == 5
	})
	_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
	conn.Close()
	s.waitForMetrics(t, "bob gone", func(text string) bool {
		c, _ := sample(text, "fechatter_websocket_connections")
		u, _ := sample(text, "fechatter_active_users")
		return c == 0 && u == 0
	})
}
