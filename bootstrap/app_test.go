package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/fechatter/fechatter/ports"
)

// testEnviron is the environment for tests that reach Postgres: the test
// profile, with DATABASE_URL passed through when set. Tests that need the
// database skip when nothing answers at its address.
func testEnviron(t *testing.T, extra ...string) []string {
	t.Helper()
	env := environ(extra...)
	dsn := "postgres://postgres@127.0.0.1:5432/fechatter_test?sslmode=disable"
	if v := os.Getenv("DATABASE_URL"); v != "" {
		dsn = v
		env = append([]string{"DATABASE_URL=" + v}, env...)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("DATABASE_URL: %v", err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	conn, err := net.DialTimeout("tcp", host, time.Second)
	if err != nil {
		t.Skipf("Postgres not reachable at %s: %v", host, err)
	}
	conn.Close()
	return env
}

func TestModulesGraphIsCompleteForEveryProfile(t *testing.T) {
	t.Parallel()
	for _, p := range []string{ProfileLocal, ProfileTest, ProfileProduction, ProfileCompose} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, LoadOptions{Profile: p, Environ: productionEnv("FECHATTER_DATA_DIR=" + t.TempDir())})
			// ValidateApp resolves the graph without running constructors.
			opts := append(modules(cfg, zap.NewNop()), fx.NopLogger)
			if err := fx.ValidateApp(opts...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestServeMigratesAndStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, LoadOptions{Profile: ProfileTest, Environ: testEnviron(t)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Cancel, as SIGTERM would, once serve reports it has started.
	log := zaptest.NewLogger(t, zaptest.WrapOptions(zap.Hooks(func(e zapcore.Entry) error {
		if e.Message == "started" {
			cancel()
		}
		return nil
	})))
	var db *bun.DB
	var migrated int
	err := serve(ctx, cfg, log,
		fx.Populate(&db),
		fx.Invoke(func(lc fx.Lifecycle, db *bun.DB, _ ports.Transactor) {
			lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
				// Runs after the postgres module's start hook.
				return db.NewRaw("SELECT count(*) FROM bun_migrations").Scan(ctx, &migrated)
			}})
		}),
	)
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	if migrated == 0 {
		t.Error("no migrations applied before later start hooks ran")
	}
	if err := db.Ping(); err == nil {
		t.Error("database still open after stop")
	}
	if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary data dir left behind: %v", err)
	}
}

func TestServeReturnsShutdownerExitCode(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, LoadOptions{Profile: ProfileTest, Environ: testEnviron(t)})
	err := serve(context.Background(), cfg, zaptest.NewLogger(t),
		fx.Invoke(func(lc fx.Lifecycle, s fx.Shutdowner) {
			lc.Append(fx.Hook{OnStart: func(context.Context) error {
				return s.Shutdown(fx.ExitCode(3))
			}})
		}),
	)
	if code, ok := errors.AsType[exitCodeError](err); !ok || code != 3 {
		t.Fatalf("serve = %v, want exit code 3", err)
	}
}

func TestServeFailsClearlyWithoutDatabase(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, LoadOptions{Profile: ProfileTest, Environ: environ("DATABASE_URL=postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable")})
	start := time.Now()
	err := serve(context.Background(), cfg, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("serve = %v, want an error naming the unreachable database", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s to fail", d)
	}
}

func runCLI(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, env)
	return code, out.String(), errOut.String()
}

func TestCLI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{[]string{"version"}, 0, "fechatter dev (commit dev", ""},
		{[]string{"--help"}, 0, "migrate", ""},
		{[]string{"serve", "--bogus"}, exitUsage, "", "unknown flag: --bogus"},
		{[]string{"frobnicate"}, exitError, "", "unknown command"},
		{[]string{"serve", "--profile", "production"}, exitError, "", "FECHATTER_JWT_SECRET"},
		{[]string{"serve", "--profile", "staging"}, exitError, "", "unknown profile"},
		{[]string{"migrate", "up", "--profile", "production"}, exitError, "", "DATABASE_URL"},
		{[]string{"serve", "--profile", "test", "--addr", "nonsense"}, exitError, "", "http.addr"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, environ(), tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.wantStdout) || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q, stderr containing %q",
					code, stdout, stderr, tt.code, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

func TestCLIMigrate(t *testing.T) {
	t.Parallel()
	env := testEnviron(t)
	code, stdout, stderr := runCLI(t, env, "migrate", "up", "--profile", "test")
	if code != 0 {
		t.Fatalf("migrate up: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "applied") && !strings.Contains(stdout, "up to date") {
		t.Errorf("migrate up printed %q", stdout)
	}
	code, stdout, stderr = runCLI(t, env, "migrate", "status", "--profile", "test")
	if code != 0 {
		t.Fatalf("migrate status: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "MIGRATION") || strings.Contains(stdout, "pending") {
		t.Errorf("migrate status after up:\n%s", stdout)
	}
}
