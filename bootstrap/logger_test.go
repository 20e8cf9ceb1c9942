package bootstrap

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := NewLogger(LogConfig{Level: "info", Format: LogJSON}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.Info("hello")
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line); err != nil {
		t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
	}
	if line["msg"] != "hello" || line["level"] != "info" || line["ts"] == nil {
		t.Errorf("line = %v", line)
	}
}

func TestConsoleLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := NewLogger(LogConfig{Level: "warn", Format: LogConsole}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("careful")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "WARN") || !strings.Contains(out, "careful") || strings.HasPrefix(out, "{") {
		t.Errorf("console output = %q", out)
	}
}

func TestLoggerRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []LogConfig{{Level: "verbose", Format: LogJSON}, {Level: "info", Format: "xml"}} {
		if _, err := NewLogger(c, &bytes.Buffer{}); err == nil {
			t.Errorf("NewLogger(%+v) succeeded", c)
		}
	}
}
