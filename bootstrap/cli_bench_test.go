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
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"bench"}, tt.args...), &stdout, &stderr, nil)
		if code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("bench %v: exit %d, stderr %q; want exit %d with %q", tt.args, code, stderr.String(), exitUsage, tt.want)
		}
	}
}
