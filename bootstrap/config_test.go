package bootstrap

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/configs"
)

// environ returns a non-nil environment (nil would mean os.Environ()).
func environ(kv ...string) []string { return append([]string{}, kv...) }

const testSecret = "0123456789abcdef0123456789abcdef" // 32 bytes

func mustLoad(t *testing.T, opts LoadOptions) Config {
	t.Helper()
	cfg, err := Load(opts)
	if err != nil {
		t.Fatalf("Load(%+v): %v", opts, err)
	}
	t.Cleanup(func() { _ = cfg.Cleanup() })
	return cfg
}

func TestLoadLocalDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := mustLoad(t, LoadOptions{Environ: environ("FECHATTER_DATA_DIR=" + dir)})

	checks := []struct {
		name      string
		got, want any
	}{
		{"profile", cfg.Profile, ProfileLocal},
		{"http.addr", cfg.HTTP.Addr, "127.0.0.1:8080"},
		{"http.body_limit", cfg.HTTP.BodyLimit, 65536},
		{"database.url", cfg.Database.URL, "postgres://postgres@127.0.0.1:5432/fechatter?sslmode=disable"},
		{"database.auto_create", cfg.Database.AutoCreate, true},
		{"database.auto_migrate", cfg.Database.AutoMigrate, true},
		{"nats.mode", cfg.NATS.Mode, NATSEmbedded},
		{"nats.store_dir", cfg.NATS.StoreDir, filepath.Join(dir, "nats")},
		{"nats.stream", cfg.NATS.Stream, "FECHATTER"},
		{"search.backend", cfg.Search.Backend, SearchBleve},
		{"search.dir", cfg.Search.Dir, filepath.Join(dir, "search")},
		{"search.batch_size", cfg.Search.BatchSize, 10},
		{"search.batch_timeout", cfg.Search.BatchTimeout, time.Second},
		{"auth.access_ttl", cfg.Auth.AccessTTL, 15 * time.Minute},
		{"auth.refresh_ttl", cfg.Auth.RefreshTTL, 720 * time.Hour},
		{"auth.signin_limit.per_email", cfg.Auth.SigninLimit.PerEmail, WindowLimit{Max: 10, Window: 15 * time.Minute}},
		{"auth.signin_limit.per_address", cfg.Auth.SigninLimit.PerAddress, WindowLimit{Max: 50, Window: 15 * time.Minute}},
		{"limits.group_members", cfg.Limits.GroupMembers, 50},
		{"limits.channel_members", cfg.Limits.ChannelMembers, 1000},
		{"limits.send_rate.per_second", cfg.Limits.SendRate.PerSecond, 20.0},
		{"presence.away_after", cfg.Presence.AwayAfter, 5 * time.Minute},
		{"presence.heartbeat", cfg.Presence.Heartbeat, 25 * time.Second},
		{"log.format", cfg.Log.Format, LogConsole},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLocalGeneratesAndKeepsDevSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := LoadOptions{Environ: environ("FECHATTER_DATA_DIR=" + dir)}
	first := mustLoad(t, opts)
	if len(first.Auth.JWTSecret) < MinJWTSecretLen {
		t.Fatalf("generated secret is %d bytes, want >= %d", len(first.Auth.JWTSecret), MinJWTSecretLen)
	}
	st, err := os.Stat(filepath.Join(dir, "jwt.secret"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("jwt.secret mode = %o, want 600", perm)
	}
	second := mustLoad(t, opts)
	if second.Auth.JWTSecret != first.Auth.JWTSecret {
		t.Error("second Load generated a new secret instead of reading the persisted one")
	}

	// A secret from the environment wins and nothing is generated.
	other := t.TempDir()
	cfg := mustLoad(t, LoadOptions{Environ: environ("FECHATTER_DATA_DIR="+other, "FECHATTER_JWT_SECRET="+testSecret)})
	if cfg.Auth.JWTSecret != testSecret {
		t.Errorf("jwt secret = %q, want the one from FECHATTER_JWT_SECRET", cfg.Auth.JWTSecret)
	}
	if _, err := os.Stat(filepath.Join(other, "jwt.secret")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("jwt.secret written although FECHATTER_JWT_SECRET was set (stat: %v)", err)
	}
}

func TestTestProfileUsesRandomPortAndTempDir(t *testing.T) {
	t.Parallel()
	cfg, err := Load(LoadOptions{Profile: ProfileTest, Environ: environ()})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "127.0.0.1:0" {
		t.Errorf("http.addr = %q, want 127.0.0.1:0", cfg.HTTP.Addr)
	}
	if !strings.HasPrefix(cfg.NATS.StoreDir, cfg.DataDir) || !strings.HasPrefix(cfg.Search.Dir, cfg.DataDir) {
		t.Errorf("store dirs %q, %q not under data dir %q", cfg.NATS.StoreDir, cfg.Search.Dir, cfg.DataDir)
	}
	if _, err := os.Stat(cfg.DataDir); err != nil {
		t.Fatalf("temp data dir: %v", err)
	}
	other := mustLoad(t, LoadOptions{Profile: ProfileTest, Environ: environ()})
	if other.DataDir == cfg.DataDir {
		t.Error("two test-profile loads share a data dir")
	}
	if err := cfg.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Cleanup left the temp data dir (stat: %v)", err)
	}

	// A given data dir is the caller's: Cleanup keeps it.
	dir := t.TempDir()
	kept := mustLoad(t, LoadOptions{Profile: ProfileTest, Environ: environ("FECHATTER_DATA_DIR=" + dir)})
	if err := kept.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jwt.secret")); err != nil {
		t.Errorf("Cleanup removed a data dir it did not create: %v", err)
	}
}

func productionEnv(extra ...string) []string {
	return environ(append([]string{
		"DATABASE_URL=postgres://app:pw@db.internal:5432/fechatter",
		"NATS_URL=nats://nats.internal:4222",
		"MEILI_URL=https://search.internal:7700",
		"MEILI_MASTER_KEY=master",
		"FECHATTER_JWT_SECRET=" + testSecret,
		"S3_ENDPOINT=s3.internal:9000", "S3_BUCKET=fechatter", "S3_ACCESS_KEY=key", "S3_SECRET_KEY=secret",
	}, extra...)...)
}

func TestProductionProfile(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, LoadOptions{Profile: ProfileProduction, Environ: productionEnv()})
	if cfg.Log.Format != LogJSON || cfg.NATS.Mode != NATSExternal || cfg.Search.Backend != SearchMeili {
		t.Errorf("production: log %s, nats %s, search %s; want json, external, meili", cfg.Log.Format, cfg.NATS.Mode, cfg.Search.Backend)
	}
	if cfg.Database.AutoCreate || cfg.Database.AutoMigrate {
		t.Error("production must not create or migrate the database on start")
	}
	if cfg.NATS.URL != "nats://nats.internal:4222" || cfg.Search.MeiliURL != "https://search.internal:7700" || cfg.Search.MeiliKey != "master" {
		t.Errorf("env not applied: nats %q meili %q key %q", cfg.NATS.URL, cfg.Search.MeiliURL, cfg.Search.MeiliKey)
	}
}

func TestProductionRefusesWeakOrMissingSecret(t *testing.T) {
	t.Parallel()
	for name, env := range map[string][]string{
		"missing": productionEnv("FECHATTER_JWT_SECRET="), // empty counts as unset
		"short":   productionEnv("FECHATTER_JWT_SECRET=too-short-secret"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(LoadOptions{Profile: ProfileProduction, Environ: env})
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Load = %v, want a *ConfigError", err)
			}
			if !strings.Contains(err.Error(), "FECHATTER_JWT_SECRET") {
				t.Errorf("error does not name FECHATTER_JWT_SECRET: %v", err)
			}
		})
	}
}

func TestProductionListsEveryMissingSetting(t *testing.T) {
	t.Parallel()
	_, err := Load(LoadOptions{Profile: ProfileProduction, Environ: environ()})
	if err == nil {
		t.Fatal("production loaded with an empty environment")
	}
	for _, want := range []string{"DATABASE_URL", "NATS_URL", "MEILI_URL", "MEILI_MASTER_KEY", "FECHATTER_JWT_SECRET"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestComposeProfileUsesServiceNames(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, LoadOptions{Profile: ProfileCompose, Environ: environ("FECHATTER_DATA_DIR=" + t.TempDir())})
	for raw, host := range map[string]string{cfg.Database.URL: "postgres", cfg.NATS.URL: "nats", cfg.Search.MeiliURL: "meilisearch"} {
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() != host {
			t.Errorf("%q does not point at the compose service %q", raw, host)
		}
	}
	if cfg.HTTP.Addr != "0.0.0.0:8080" {
		t.Errorf("http.addr = %q, want 0.0.0.0:8080", cfg.HTTP.Addr)
	}
}

func TestOverridePrecedence(t *testing.T) {
	t.Parallel()
	dir := "FECHATTER_DATA_DIR=" + t.TempDir()
	tests := []struct {
		name string
		opts LoadOptions
		get  func(Config) any
		want any
	}{
		{"profile from env", LoadOptions{Environ: environ(dir, "FECHATTER_PROFILE=test")},
			func(c Config) any { return c.Profile }, ProfileTest},
		{"profile flag beats env", LoadOptions{Profile: ProfileLocal, Environ: environ(dir, "FECHATTER_PROFILE=test")},
			func(c Config) any { return c.Profile }, ProfileLocal},
		{"addr from env", LoadOptions{Environ: environ(dir, "FECHATTER_HTTP_ADDR=127.0.0.1:9000")},
			func(c Config) any { return c.HTTP.Addr }, "127.0.0.1:9000"},
		{"addr flag beats env", LoadOptions{Addr: "127.0.0.1:9001", Environ: environ(dir, "FECHATTER_HTTP_ADDR=127.0.0.1:9000")},
			func(c Config) any { return c.HTTP.Addr }, "127.0.0.1:9001"},
		{"DATABASE_URL", LoadOptions{Environ: environ(dir, "DATABASE_URL=postgres://u@h:1/d")},
			func(c Config) any { return c.Database.URL }, "postgres://u@h:1/d"},
		{"FECHATTER_DATABASE_URL beats DATABASE_URL", LoadOptions{Environ: environ(dir, "DATABASE_URL=postgres://u@h:1/d", "FECHATTER_DATABASE_URL=postgres://u@h:2/e")},
			func(c Config) any { return c.Database.URL }, "postgres://u@h:2/e"},
		{"empty variable is unset", LoadOptions{Environ: environ(dir, "DATABASE_URL=")},
			func(c Config) any { return c.Database.URL }, "postgres://postgres@127.0.0.1:5432/fechatter?sslmode=disable"},
		{"log level", LoadOptions{Environ: environ(dir, "FECHATTER_LOG_LEVEL=debug")},
			func(c Config) any { return c.Log.Level }, "debug"},
		{"data dir", LoadOptions{Environ: environ("FECHATTER_DATA_DIR=/tmp/x-fechatter-data", "FECHATTER_JWT_SECRET="+testSecret)},
			func(c Config) any { return c.NATS.StoreDir }, "/tmp/x-fechatter-data/nats"},
		{"explicit store dir", LoadOptions{Environ: environ(dir, "FECHATTER_NATS_STORE_DIR=/srv/js")},
			func(c Config) any { return c.NATS.StoreDir }, "/srv/js"},
		{"duration", LoadOptions{Environ: environ(dir, "FECHATTER_SEARCH_BATCH_TIMEOUT=250ms")},
			func(c Config) any { return c.Search.BatchTimeout }, 250 * time.Millisecond},
		{"bool", LoadOptions{Environ: environ(dir, "FECHATTER_DATABASE_AUTO_MIGRATE=false")},
			func(c Config) any { return c.Database.AutoMigrate }, false},
		{"nested int", LoadOptions{Environ: environ(dir, "FECHATTER_AUTH_SIGNIN_LIMIT_PER_EMAIL_MAX=3")},
			func(c Config) any { return c.Auth.SigninLimit.PerEmail.Max }, 3},
		{"float", LoadOptions{Environ: environ(dir, "FECHATTER_LIMITS_SEND_RATE_PER_SECOND=2.5")},
			func(c Config) any { return c.Limits.SendRate.PerSecond }, 2.5},
		{"meili", LoadOptions{Environ: environ(dir, "FECHATTER_SEARCH_BACKEND=meili", "MEILI_URL=http://127.0.0.1:7700", "MEILI_MASTER_KEY=k")},
			func(c Config) any { return c.Search.MeiliURL + " " + c.Search.MeiliKey }, "http://127.0.0.1:7700 k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustLoad(t, tt.opts)
			if got := tt.get(cfg); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBadEnvironmentValues(t *testing.T) {
	t.Parallel()
	dir := "FECHATTER_DATA_DIR=" + t.TempDir()
	tests := []struct {
		env  string
		want string // in the error
	}{
		{"FECHATTER_HTTP_BODY_LIMIT=big", "FECHATTER_HTTP_BODY_LIMIT"},
		{"FECHATTER_HTTP_SHUTDOWN_TIMEOUT=15", "duration"},
		{"FECHATTER_DATABASE_AUTO_CREATE=maybe", "true or false"},
		{"FECHATTER_HTTP_ADDR=localhost", "http.addr"},
		{"FECHATTER_HTTP_BODY_LIMIT=0", "http.body_limit"},
		{"DATABASE_URL=mysql://h/db", "database.url"},
		{"FECHATTER_NATS_MODE=cluster", "nats.mode"},
		{"FECHATTER_NATS_MODE=external", "NATS_URL"},
		{"FECHATTER_NATS_REPLICAS=0", "nats.replicas"},
		{"FECHATTER_NATS_REPLICAS=7", "nats.replicas"},
		{"FECHATTER_SEARCH_BACKEND=elastic", "search.backend"},
		{"FECHATTER_SEARCH_BACKEND=meili", "MEILI_URL"},
		{"FECHATTER_SEARCH_BATCH_SIZE=0", "search.batch_size"},
		{"FECHATTER_JWT_SECRET=short", "at least 32"},
		{"FECHATTER_AUTH_REFRESH_TTL=1m", "auth.refresh_ttl"},
		{"FECHATTER_AUTH_SIGNIN_LIMIT_PER_ADDRESS_MAX=0", "per_address"},
		{"FECHATTER_LIMITS_GROUP_MEMBERS=1", "limits.group_members"},
		{"FECHATTER_LIMITS_SEND_RATE_BURST=0", "limits.send_rate"},
		{"FECHATTER_PRESENCE_AWAY_AFTER=10s", "presence.away_after"},
		{"FECHATTER_LOG_LEVEL=loud", "log.level"},
		{"FECHATTER_LOG_FORMAT=xml", "log.format"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Parallel()
			_, err := Load(LoadOptions{Environ: environ(dir, tt.env)})
			if err == nil {
				t.Fatalf("Load accepted %s", tt.env)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error for %s does not mention %q:\n%v", tt.env, tt.want, err)
			}
		})
	}
}

func TestUnknownProfile(t *testing.T) {
	t.Parallel()
	_, err := Load(LoadOptions{Profile: "staging", Environ: environ()})
	if err == nil || !strings.Contains(err.Error(), "local") {
		t.Fatalf("Load(staging) = %v, want an error listing the known profiles", err)
	}
}

func TestUnknownVariableIsAWarning(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, LoadOptions{Environ: environ("FECHATTER_DATA_DIR="+t.TempDir(), "FECHATTER_HTTP_ADR=1.2.3.4:5")})
	w := cfg.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "FECHATTER_HTTP_ADR") {
		t.Errorf("warnings = %q, want one about FECHATTER_HTTP_ADR", w)
	}
}

func TestEveryProfileSetsEveryKey(t *testing.T) {
	t.Parallel()
	// A key missing from a profile would silently be zero; validation
	// catches most, this catches the rest (booleans, optional strings).
	want := configKeys()
	for _, p := range []string{ProfileLocal, ProfileTest, ProfileProduction, ProfileCompose} {
		b, err := configs.Profile(p)
		if err != nil {
			t.Fatal(err)
		}
		raw := string(b)
		for name, f := range want {
			key := f.path[strings.LastIndex(f.path, ".")+1:]
			if !strings.Contains(raw, key+":") {
				t.Errorf("configs/%s.yaml has no %s (%s)", p, f.path, name)
			}
		}
	}
}

// Nothing of adapters/memory serves the production profile: its search
// index is refused there.
func TestProductionRefusesTheMemorySearchIndex(t *testing.T) {
	t.Parallel()
	_, err := Load(LoadOptions{Profile: ProfileProduction, Environ: productionEnv("FECHATTER_SEARCH_BACKEND=memory")})
	if err == nil || !strings.Contains(err.Error(), "test adapter") {
		t.Fatalf("Load = %v, want the memory backend refused", err)
	}
}

// fieldAt returns the leaf of c at a koanf path such as
// "auth.signin_limit.per_email.max", by the yaml tags.
func fieldAt(t *testing.T, c *Config, path string) reflect.Value {
	t.Helper()
	v := reflect.ValueOf(c).Elem()
next:
	for _, part := range strings.Split(path, ".") {
		for i := range v.NumField() {
			if tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); tag == part {
				v = v.Field(i)
				continue next
			}
		}
		t.Fatalf("no field %q on the way to %s", part, path)
	}
	return v
}

// Every FECHATTER_<PATH> variable sets its key and no other, including the
// keys whose names have underscores of their own (signin_limit.per_email,
// send_rate.per_second, files.s3.access_key): names are looked up in the
// table built from Config's yaml tags, never split on "_".
func TestEveryVariableSetsItsKeyAndNoOther(t *testing.T) {
	t.Parallel()
	raw, err := configs.Profile(ProfileLocal)
	if err != nil {
		t.Fatal(err)
	}
	base, err := decode(ProfileLocal, raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := configKeys()
	if len(keys) < 50 {
		t.Fatalf("only %d keys found in Config", len(keys))
	}
	for name, key := range keys {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			before := fieldAt(t, &base, key.path)
			var value string
			var want any
			switch before.Interface().(type) {
			case time.Duration:
				value, want = "1234ms", 1234*time.Millisecond
			case string:
				value, want = "v-"+name, "v-"+name
			case bool:
				want = !before.Bool()
				value = strconv.FormatBool(want.(bool))
			case int:
				value, want = "1234", 1234
			case int64:
				value, want = "12345678901", int64(12345678901)
			case float64:
				value, want = "12.5", 12.5
			default:
				t.Fatalf("%s has type %s: add it here", key.path, before.Type())
			}
			got, err := decode(ProfileLocal, raw, map[string]string{name: value})
			if err != nil {
				t.Fatalf("%s=%s: %v", name, value, err)
			}
			if v := fieldAt(t, &got, key.path).Interface(); v != want {
				t.Errorf("%s=%s set %s to %v, want %v", name, value, key.path, v, want)
			}
			// Everything else is the profile's.
			fieldAt(t, &got, key.path).Set(before)
			if !reflect.DeepEqual(got, base) {
				t.Errorf("%s=%s changed other settings:\n got %+v\nwant %+v", name, value, got, base)
			}
		})
	}
}

func TestProfileKeysAreChecked(t *testing.T) {
	t.Parallel()
	for name, yaml := range map[string]string{
		"unknown key":       "http:\n  adr: 127.0.0.1:1\n",
		"unknown section":   "htp:\n  addr: 127.0.0.1:1\n",
		"wrong type":        "http:\n  body_limit: lots\n",
		"bad duration":      "http:\n  shutdown_timeout: soon\n",
		"section not a map": "http: 8080\n",
		"not yaml":          "http: [\n",
		"duplicate key":     "http:\n  addr: a:1\n  addr: b:2\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if cfg, err := decode("x", []byte(yaml), nil); err == nil {
				t.Errorf("decoded %q into %+v", yaml, cfg.HTTP)
			}
		})
	}
	// Nested keys with underscores, from YAML and overridden by the
	// environment (which wins), next to a key it leaves alone.
	cfg, err := decode("x", []byte("auth:\n  signin_limit:\n    per_email: {max: 4, window: 2m}\n    per_address: {max: 9, window: 3m}\n"),
		map[string]string{"FECHATTER_AUTH_SIGNIN_LIMIT_PER_EMAIL_WINDOW": "90s"})
	if err != nil {
		t.Fatal(err)
	}
	want := SigninLimit{PerEmail: WindowLimit{Max: 4, Window: 90 * time.Second}, PerAddress: WindowLimit{Max: 9, Window: 3 * time.Minute}}
	if cfg.Auth.SigninLimit != want {
		t.Errorf("signin_limit = %+v, want %+v", cfg.Auth.SigninLimit, want)
	}
}

func TestLaterAndEmptyVariables(t *testing.T) {
	t.Parallel()
	dir := "FECHATTER_DATA_DIR=" + t.TempDir()
	// A later entry wins, as with exec; an empty one unsets the variable.
	cfg := mustLoad(t, LoadOptions{Environ: environ(dir, "FECHATTER_LOG_LEVEL=warn", "FECHATTER_LOG_LEVEL=debug")})
	if cfg.Log.Level != "debug" {
		t.Errorf("log.level = %q, want debug (the later entry)", cfg.Log.Level)
	}
	cfg = mustLoad(t, LoadOptions{Environ: environ(dir, "FECHATTER_LOG_LEVEL=debug", "FECHATTER_LOG_LEVEL=")})
	if cfg.Log.Level != "info" {
		t.Errorf("log.level = %q, want the profile's info (the later, empty entry unsets)", cfg.Log.Level)
	}
	// Every bad variable is reported at once.
	_, err := Load(LoadOptions{Environ: environ(dir, "FECHATTER_HTTP_BODY_LIMIT=big", "FECHATTER_AUTH_SIGNIN_LIMIT_PER_EMAIL_WINDOW=15", "S3_BUCKET=b")})
	for _, want := range []string{"FECHATTER_HTTP_BODY_LIMIT=\"big\": http.body_limit wants an integer", "FECHATTER_AUTH_SIGNIN_LIMIT_PER_EMAIL_WINDOW=\"15\": auth.signin_limit.per_email.window wants a duration"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}
