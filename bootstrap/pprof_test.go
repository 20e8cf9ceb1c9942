package bootstrap

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
)

func TestPprofListenerOnlyWhenAsked(t *testing.T) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	app := fx.New(fx.NopLogger, fx.Supply(zap.NewNop()), pprofModule([]string{PprofAddrEnv + "=" + addr}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) == 0 {
		t.Fatalf("pprof answered %d %q", resp.StatusCode, body)
	}
	if err := app.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/debug/pprof/cmdline"); err == nil {
		t.Fatal("pprof still listening after stop")
	}

	// Without the variable: no listener, and the variable is no unknown
	// configuration either.
	if err := fx.New(fx.NopLogger, fx.Supply(zap.NewNop()), pprofModule(nil)).Err(); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, LoadOptions{Profile: ProfileTest, Environ: []string{PprofAddrEnv + "=" + addr}})
	for _, w := range cfg.Warnings() {
		if strings.Contains(w, PprofAddrEnv) {
			t.Fatalf("config warns: %s", w)
		}
	}
}
