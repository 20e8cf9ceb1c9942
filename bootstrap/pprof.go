package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
)

// PprofAddrEnv turns on Go's profiling endpoints (/debug/pprof/...) on a
// listener of their own, e.g. FECHATTER_PPROF_ADDR=127.0.0.1:6060. Off by
// default, and never on the public port: profiles show the process's
// internals. `fechatter bench --spawn --cpuprofile` sets it on the server
// it starts.
const PprofAddrEnv = "FECHATTER_PPROF_ADDR"

// pprofModule serves net/http/pprof when environ sets PprofAddrEnv.
func pprofModule(environ []string) fx.Option {
	addr := parseEnviron(environ)[PprofAddrEnv]
	if addr == "" {
		return fx.Options()
	}
	return fx.Module("pprof", fx.Invoke(func(lc fx.Lifecycle, log *zap.Logger) {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					return fmt.Errorf("pprof: listen on %s (%s): %w", addr, PprofAddrEnv, err)
				}
				go func() {
					if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
						log.Error("pprof server stopped", zap.Error(err))
					}
				}()
				log.Warn("profiling endpoints enabled", zap.String("addr", "http://"+ln.Addr().String()+"/debug/pprof/"))
				return nil
			},
			OnStop: func(ctx context.Context) error { return srv.Shutdown(ctx) },
		})
	}))
}
