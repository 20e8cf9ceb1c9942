// Command fakemeili serves the in-process Meilisearch of package meilitest
// as a process of its own, for runs that need the Meilisearch backend
// where Meilisearch cannot be installed (the scale-out benchmark's shared
// index):
//
//	go run ./adapters/meili/meilitest/fakemeili -addr 127.0.0.1:7700 -key KEY
//
// It keeps everything in memory and records every request; it is a test
// double, not a search engine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fechatter/fechatter/adapters/meili/meilitest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7700", "address to listen on")
	key := flag.String("key", "", "master key the requests must carry (empty: any)")
	flag.Parse()
	srv := &http.Server{Addr: *addr, Handler: meilitest.NewHandler(*key), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(os.Stderr, "fake Meilisearch on http://%s\n", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "fakemeili:", err)
		os.Exit(1)
	}
}
