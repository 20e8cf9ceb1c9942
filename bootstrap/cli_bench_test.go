package bootstrap

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestBenchCommandRefusesBadUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--workload", "storm"}, "unknown workload"},
		{[]string{"--url", "127.0.0.1:8080"}, "must be http(s)://host:port"},
		{[]string{"--cpuprofile", "x.pprof"}, "--cpuprofile needs --spawn"},
		{[]string{"--workload", "search", "--flow-rate", "-1"}, "--flow-rate -1"},
		{[]string{"--spawn", "--spawn-database", "postgres://postgres@127.0.0.1:5432/fechatter"}, "must contain \"bench\""},
		{[]string{"--spawn", "--url", "http://127.0.0.1"}, "--spawn needs --url with host:port"},
		{[]string{"--url", "http://127.0.0.1:1,127.0.0.1:2"}, "must be http(s)://host:port"},
		{[]string{"--instances", "2"}, "--instances and --spawn-nats need --spawn"},
		{[]string{"--spawn", "--instances", "0"}, "--instances 0: 1..16"},
		{[]string{"--spawn", "--instances", "3", "--url", "http://127.0.0.1:1,http://127.0.0.1:2"}, "--url lists 2 addresses; give 3"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"bench"}, tt.args...), &stdout, &stderr, nil)
		if code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("bench %v: exit %d, stderr %q; want exit %d with %q", tt.args, code, stderr.String(), exitUsage, tt.want)
		}
	}
}

func TestSpawnURLsTakeTheNextPorts(t *testing.T) {
	got, err := spawnURLs([]string{"http://127.0.0.1:18089"}, 3)
	want := []string{"http://127.0.0.1:18089", "http://127.0.0.1:18090", "http://127.0.0.1:18091"}
	if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("spawnURLs = %v, %v; want %v", got, err, want)
	}
	listed := []string{"http://127.0.0.1:1", "http://127.0.0.1:5"}
	if got, err := spawnURLs(listed, 2); err != nil || strings.Join(got, " ") != strings.Join(listed, " ") {
		t.Fatalf("spawnURLs of a full list = %v, %v", got, err)
	}
}
