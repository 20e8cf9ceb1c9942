package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// serverBinary builds the server (the parent module) once per test run.
func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fechatter-deploy-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "fechatter")
		// The release's flags (deploy/release.sh), so that its linux/amd64
		// build finds every package compiled already.
		cmd := exec.Command("go", "build", "-trimpath", "-o", binPath, ".")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// databaseURL is a database of this test's own on the local Postgres
// (created by the server's test profile on start).
func databaseURL(name string) string {
	base := os.Getenv("FECHATTER_DEPLOY_TEST_PG")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432"
	}
	return base + "/" + name + "?sslmode=disable"
}

type server struct {
	base string
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

// startServer runs `fechatter serve --profile test` on a free port with
// the given environment, and waits until /health/ready answers 200.
func startServer(t *testing.T, env ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	s := &server{base: "http://" + addr, logs: &bytes.Buffer{}}
	s.cmd = exec.Command(serverBinary(t), "serve", "--profile", "test", "--addr", addr)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop(t) })
	waitFor(t, 60*time.Second, "the server ready", func() bool {
		resp, err := http.Get(s.base + "/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return s
}

func (s *server) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
		t.Errorf("server did not stop within 30s; logs:\n%s", s.logs)
	}
}

// dropDatabase drops the database when the test ends.
func dropDatabase(t *testing.T, name string) {
	t.Helper()
	t.Cleanup(func() {
		out, err := exec.Command("psql", databaseURL("postgres"), "-qc", "DROP DATABASE IF EXISTS "+name).CombinedOutput()
		if err != nil {
			t.Logf("drop database %s: %v: %s", name, err, out)
		}
	})
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call makes one JSON request and decodes the answer into out.
func (s *server) call(t *testing.T, method, path, token string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, s.base+"/api/v1"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	if resp.StatusCode >= 300 {
		t.Logf("%s %s = %d: %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// scrapeNames returns the sample names /metrics exposes (histograms as
// their _bucket, _sum and _count series, as Prometheus stores them).
func (s *server) scrapeNames(t *testing.T) map[string]bool {
	t.Helper()
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	names := map[string]bool{}
	for name, f := range fams {
		if len(f.GetMetric()) == 0 {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[name], names[name+"_sum"], names[name+"_count"] = true, true, true
		default:
			names[name] = true
		}
	}
	return names
}

type session struct {
	AccessToken string `json:"access_token"`
	User        struct {
		ID int64 `json:"id"`
	} `json:"user"`
}

// TestMonitoredMetricsAreExported runs the server and checks that every
// metric an alert rule or a dashboard query names is on its /metrics
// once it has served traffic (a sign-up, a chat, messages indexed).
func TestMonitoredMetricsAreExported(t *testing.T) {
	want := monitoredMetrics(t)
	for _, n := range want {
		if !metricName.MatchString(n) {
			t.Errorf("odd metric name %q", n)
		}
	}
	db := fmt.Sprintf("fechatter_deploy_metrics_%d", os.Getpid())
	dropDatabase(t, db) // after the server stops (cleanups run last first)
	s := startServer(t,
		"DATABASE_URL="+databaseURL(db),
		"FECHATTER_SEARCH_BATCH_TIMEOUT=50ms")

	var alice session
	if code := s.call(t, "POST", "/auth/signup", "", map[string]string{
		"email": "alice@metrics.test", "password": "correct-horse", "fullname": "Alice", "workspace": "Metrics",
	}, &alice); code != 201 && code != 200 {
		t.Fatalf("signup = %d", code)
	}
	var chat struct {
		ID int64 `json:"id"`
	}
	if code := s.call(t, "POST", "/chats", alice.AccessToken, map[string]any{"type": "public_channel", "name": "general"}, &chat); code != 201 {
		t.Fatalf("create chat = %d", code)
	}
	if code := s.call(t, "POST", fmt.Sprintf("/chats/%d/messages", chat.ID), alice.AccessToken,
		map[string]string{"content": "metrics please", "idempotency_key": "m-1"}, nil); code != 201 {
		t.Fatalf("send = %d", code)
	}
	s.call(t, "GET", "/chats/999999999/messages", alice.AccessToken, nil, nil) // a 404 for the error panels

	var names map[string]bool
	waitFor(t, 20*time.Second, "the message indexed", func() bool {
		names = s.scrapeNames(t)
		return names["fechatter_search_index_lag_seconds_bucket"] && names["fechatter_search_index_writes_total"]
	})
	var missing []string
	for _, n := range want {
		if !names[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Errorf("named by alerts or the dashboard but not exported: %s", strings.Join(missing, ", "))
	}
	t.Logf("%d metrics checked: %s", len(want), strings.Join(want, " "))
}
