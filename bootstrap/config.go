package bootstrap

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-viper/mapstructure/v2"
	kyaml "github.com/knadh/koanf/parsers/yaml"
	kenv "github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"

	"github.com/fechatter/fechatter/configs"
)

// Profile names, one per file in configs/.
const (
	ProfileLocal      = "local"
	ProfileTest       = "test"
	ProfileProduction = "production"
	ProfileCompose    = "compose"
)

// MinJWTSecretLen is the shortest accepted JWT signing secret, in bytes.
const MinJWTSecretLen = 32

// Config is everything one server process is told: a profile from configs/
// with environment overrides on top. Field tags name the YAML keys; each leaf
// can also be set with FECHATTER_<SECTION>_<KEY> (for example
// FECHATTER_HTTP_BODY_LIMIT=131072, FECHATTER_SEARCH_BATCH_TIMEOUT=500ms).
type Config struct {
	// Profile is the name of the profile the config was loaded from.
	Profile string `yaml:"-"`
	// DataDir holds local state: the embedded NATS store, the Bleve index and
	// the generated development JWT secret.
	DataDir string `yaml:"data_dir"`

	HTTP     HTTPConfig     `yaml:"http"`
	Database DatabaseConfig `yaml:"database"`
	NATS     NATSConfig     `yaml:"nats"`
	Search   SearchConfig   `yaml:"search"`
	Auth     AuthConfig     `yaml:"auth"`
	Limits   LimitsConfig   `yaml:"limits"`
	Presence PresenceConfig `yaml:"presence"`
	Log      LogConfig      `yaml:"log"`
	Files    FilesConfig    `yaml:"files"`

	// tempDataDir is the DataDir Load created for the test profile; Cleanup
	// removes it.
	tempDataDir string
	// warnings are problems that do not stop the process, such as unknown
	// FECHATTER_ variables; logged once the logger exists.
	warnings []string
}

// HTTPConfig configures the REST and WebSocket listener.
type HTTPConfig struct {
	// Addr is host:port; port 0 takes a free port.
	Addr string `yaml:"addr"`
	// BodyLimit is the largest accepted request body, in bytes.
	BodyLimit int `yaml:"body_limit"`
	// ShutdownTimeout bounds the whole graceful stop: draining requests,
	// flushing the outbox and the indexer, closing connections.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// DatabaseConfig configures Postgres.
type DatabaseConfig struct {
	URL          string `yaml:"url"`
	MaxOpenConns int    `yaml:"max_open_conns"`
	// MaxIdleConns is how many of them stay open while idle (0: as many as
	// MaxOpenConns, so that a burst does not open and close connections).
	MaxIdleConns int `yaml:"max_idle_conns"`
	// SendWriters is how many transactions write sends at once (group
	// commit, one per share of the chats), each on a connection of its own
	// outside the MaxOpenConns pool; SendBatch bounds the sends per
	// transaction.
	SendWriters int `yaml:"send_writers"`
	SendBatch   int `yaml:"send_batch"`
	// AutoCreate creates the database named in URL when it is missing.
	AutoCreate bool `yaml:"auto_create"`
	// AutoMigrate applies pending migrations on start.
	AutoMigrate bool `yaml:"auto_migrate"`
}

// NATS modes.
const (
	NATSEmbedded = "embedded"
	NATSExternal = "external"
)

// NATSConfig configures the event bus.
type NATSConfig struct {
	// Mode is "embedded" (nats-server inside the process, JetStream on
	// StoreDir) or "external" (connect to URL).
	Mode string `yaml:"mode"`
	URL  string `yaml:"url"`
	// StoreDir is the embedded server's JetStream directory; empty means
	// <data_dir>/nats.
	StoreDir      string `yaml:"store_dir"`
	Stream        string `yaml:"stream"`
	SubjectPrefix string `yaml:"subject_prefix"`
	// Replicas is the copies JetStream keeps of the event stream and the
	// presence bucket: 3 on a 3-node NATS cluster, so that losing a node
	// loses nothing; 1 on a single server.
	Replicas int `yaml:"replicas"`
}

// Embedded reports whether NATS runs inside the process.
func (c NATSConfig) Embedded() bool { return c.Mode == NATSEmbedded }

// Search backends.
const (
	SearchBleve  = "bleve"
	SearchMeili  = "meili"
	SearchMemory = "memory"
)

// SearchConfig configures the search index and the indexer feeding it.
type SearchConfig struct {
	// Backend is "bleve" (embedded, on Dir), "meili" (MeiliURL) or "memory".
	Backend string `yaml:"backend"`
	// Dir is the Bleve index directory; empty means <data_dir>/search.
	Dir          string        `yaml:"dir"`
	MeiliURL     string        `yaml:"meili_url"`
	MeiliKey     string        `yaml:"meili_key"`
	BatchSize    int           `yaml:"batch_size"`
	BatchTimeout time.Duration `yaml:"batch_timeout"`
}

// AuthConfig configures tokens and sign-in throttling.
type AuthConfig struct {
	JWTSecret string `yaml:"jwt_secret"`
	// GenerateSecret lets a profile without a configured secret generate one
	// and keep it in <data_dir>/jwt.secret (development profiles only).
	GenerateSecret bool          `yaml:"generate_secret"`
	AccessTTL      time.Duration `yaml:"access_ttl"`
	RefreshTTL     time.Duration `yaml:"refresh_ttl"`
	SigninLimit    SigninLimit   `yaml:"signin_limit"`
	// SignupLimit: sign-ups per client address (per instance); zero values
	// take 20 per hour.
	SignupLimit WindowLimit `yaml:"signup_limit"`
	// HashConcurrency bounds concurrent password hashes server-wide (0:
	// the number of CPUs); HashWait is how long a sign-up waits for a slot
	// before 429 (0: 5s).
	HashConcurrency int           `yaml:"hash_concurrency"`
	HashWait        time.Duration `yaml:"hash_wait"`
	// HashCost "owasp" forces argon2id's production cost (19 MiB) in the
	// test profile, which otherwise hashes cheaply.
	HashCost string `yaml:"hash_cost"`
}

// SigninLimit throttles sign-in attempts per e-mail and per client address.
type SigninLimit struct {
	PerEmail   WindowLimit `yaml:"per_email"`
	PerAddress WindowLimit `yaml:"per_address"`
}

// WindowLimit allows Max events per sliding Window.
type WindowLimit struct {
	Max    int           `yaml:"max"`
	Window time.Duration `yaml:"window"`
}

// LimitsConfig holds product limits.
type LimitsConfig struct {
	// GroupMembers and ChannelMembers cap chat sizes, creator included.
	GroupMembers   int `yaml:"group_members"`
	ChannelMembers int `yaml:"channel_members"`
	// SendRate limits messages sent per user.
	SendRate TokenBucket `yaml:"send_rate"`
	// FileMaxBytes bounds one upload (default 25 MiB);
	// WorkspaceStorageBytes a workspace's files (default 10 GiB).
	FileMaxBytes          int64 `yaml:"file_max_bytes"`
	WorkspaceStorageBytes int64 `yaml:"workspace_storage_bytes"`
}

// File store backends.
const (
	FilesDir = "dir"
	FilesS3  = "s3"
)

// FilesConfig says where uploaded files' bytes live.
type FilesConfig struct {
	// Backend is "dir" (a directory, Dir or <data_dir>/files) or "s3".
	Backend string   `yaml:"backend"`
	Dir     string   `yaml:"dir"`
	S3      S3Config `yaml:"s3"`
	// LinkTTL is how long signed file links work (default 1h).
	LinkTTL time.Duration `yaml:"link_ttl"`
	// OrphanSweep is how often unattached files older than 24 h are
	// removed (default 10m).
	OrphanSweep time.Duration `yaml:"orphan_sweep"`
}

// S3Config locates the bucket of the s3 backend (S3_ENDPOINT, S3_BUCKET,
// S3_ACCESS_KEY, S3_SECRET_KEY).
type S3Config struct {
	Endpoint  string `yaml:"endpoint"` // host:port
	Bucket    string `yaml:"bucket"`
	Region    string `yaml:"region"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	Secure    bool   `yaml:"secure"`
	Prefix    string `yaml:"prefix"`
}

// TokenBucket allows PerSecond events on average with bursts of Burst.
type TokenBucket struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// PresenceConfig configures presence and WebSocket heartbeats.
type PresenceConfig struct {
	// AwayAfter turns a connected but inactive user "away".
	AwayAfter time.Duration `yaml:"away_after"`
	// Heartbeat is the WebSocket ping interval (heartbeat_interval_ms in
	// hello) and the presence key refresh interval.
	Heartbeat time.Duration `yaml:"heartbeat"`
}

// Log formats.
const (
	LogConsole = "console"
	LogJSON    = "json"
)

// LogConfig configures zap.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is "console" (readable) or "json".
	Format string `yaml:"format"`
}

// LoadOptions are the inputs of Load besides the embedded profiles.
type LoadOptions struct {
	// Profile is the --profile flag; it beats FECHATTER_PROFILE. Empty means
	// FECHATTER_PROFILE, or "local".
	Profile string
	// Addr is the --addr flag; it beats FECHATTER_HTTP_ADDR.
	Addr string
	// Environ is the environment as KEY=value pairs; nil means os.Environ().
	Environ []string
}

// envAliases are the short, conventional variable names, applied before the
// generic FECHATTER_<SECTION>_<KEY> names (which therefore win).
var envAliases = []envAlias{
	{"DATABASE_URL", "database.url"},
	{"NATS_URL", "nats.url"},
	{"MEILI_URL", "search.meili_url"},
	{"MEILI_MASTER_KEY", "search.meili_key"},
	{"FECHATTER_JWT_SECRET", "auth.jwt_secret"},
	{"S3_ENDPOINT", "files.s3.endpoint"},
	{"S3_BUCKET", "files.s3.bucket"},
	{"S3_ACCESS_KEY", "files.s3.access_key"},
	{"S3_SECRET_KEY", "files.s3.secret_key"},
}

type envAlias struct{ name, path string }

// envPrefix starts every generic override, and FECHATTER_PROFILE.
const envPrefix = "FECHATTER"

// Load reads the profile, applies environment overrides and flags, fills in
// derived paths (a temporary data dir for the test profile, a generated
// development JWT secret where the profile allows it) and validates the
// result. Precedence, lowest first: YAML, short variables (DATABASE_URL,
// NATS_URL, MEILI_URL, MEILI_MASTER_KEY, FECHATTER_JWT_SECRET), generic
// FECHATTER_<SECTION>_<KEY> variables, flags. Empty variables count as unset.
func Load(opts LoadOptions) (Config, error) {
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	env := parseEnviron(environ)

	profile := opts.Profile
	if profile == "" {
		profile = env[envPrefix+"_PROFILE"]
	}
	if profile == "" {
		profile = ProfileLocal
	}
	raw, err := configs.Profile(profile)
	if err != nil {
		return Config{}, err
	}

	cfg, err := decode(profile, raw, env)
	if err != nil {
		return Config{}, err
	}
	if opts.Addr != "" {
		cfg.HTTP.Addr = opts.Addr
	}
	if err := cfg.resolve(); err != nil {
		_ = cfg.Cleanup()
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		_ = cfg.Cleanup()
		return Config{}, err
	}
	return cfg, nil
}

func parseEnviron(environ []string) map[string]string {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v // a later entry wins, as with exec
		}
	}
	for k, v := range env {
		if v == "" {
			delete(env, k)
		}
	}
	return env
}

// decode layers the profile's YAML, the short variables and the generic
// FECHATTER_<SECTION>_<KEY> variables with koanf, in that order, and
// unmarshals the result into a Config through its yaml tags. A key the
// profile has but Config lacks is an error, as is a variable whose value
// does not fit its setting (every such variable is reported at once).
// Unknown FECHATTER_ variables become warnings: other tools (tests, the
// load generator) may use the prefix too.
func decode(profile string, raw []byte, env map[string]string) (Config, error) {
	k := koanf.New(".")
	if err := k.Load(rawbytes.Provider(raw), kyaml.Parser()); err != nil {
		return Config{}, fmt.Errorf("config: profile %s: %w", profile, err)
	}

	environ := func() []string { // env without empty values, sorted
		kv := make([]string, 0, len(env))
		for name, v := range env {
			kv = append(kv, name+"="+v)
		}
		slices.Sort(kv)
		return kv
	}
	keys := configKeys()
	byPath := make(map[string]configKey, len(keys))
	for _, key := range keys {
		byPath[key.path] = key
	}
	var errs, warnings []string
	// typed returns the koanf path and the parsed value of variable name
	// setting key, or "" (skip it) after recording why it does not fit.
	typed := func(name, v string, key configKey) (string, any) {
		x, err := key.parse(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q: %s wants %s", name, v, key.path, err))
			return "", nil
		}
		return key.path, x
	}

	aliases := kenv.Provider(".", kenv.Opt{EnvironFunc: environ, TransformFunc: func(name, v string) (string, any) {
		i := slices.IndexFunc(envAliases, func(a envAlias) bool { return a.name == name })
		if i < 0 {
			return "", nil
		}
		return typed(name, v, byPath[envAliases[i].path])
	}})
	known := map[string]bool{envPrefix + "_PROFILE": true, PprofAddrEnv: true}
	for _, a := range envAliases {
		known[a.name] = true
	}
	generic := kenv.Provider(".", kenv.Opt{Prefix: envPrefix + "_", EnvironFunc: environ, TransformFunc: func(name, v string) (string, any) {
		key, ok := keys[name]
		if !ok {
			if !known[name] {
				warnings = append(warnings, fmt.Sprintf("unknown configuration variable %s ignored", name))
			}
			return "", nil
		}
		return typed(name, v, key)
	}})
	for _, p := range []koanf.Provider{aliases, generic} {
		if err := k.Load(p, nil); err != nil {
			return Config{}, fmt.Errorf("config: profile %s: %w", profile, err)
		}
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("config: profile %s: %s", profile, strings.Join(errs, "\n"))
	}

	cfg := Config{Profile: profile, warnings: warnings}
	err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{Tag: "yaml", DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook:  mapstructure.StringToTimeDurationHookFunc(), // "15m" in the YAML
		ErrorUnused: true,                                        // a key Config does not have
	}})
	if err != nil {
		return Config{}, fmt.Errorf("config: profile %s: %w", profile, err)
	}
	return cfg, nil
}

// configKey is one leaf setting of Config.
type configKey struct {
	path string // koanf path from the yaml tags, e.g. "http.body_limit"
	typ  reflect.Type
}

var durationType = reflect.TypeFor[time.Duration]()

// configKeys maps every FECHATTER_<PATH> variable to its leaf of Config,
// from the yaml tags: FECHATTER_AUTH_SIGNIN_LIMIT_PER_EMAIL_MAX is
// auth.signin_limit.per_email.max. Keys have underscores of their own
// (signin_limit, per_email), so a name is looked up here, never split.
var configKeys = sync.OnceValue(func() map[string]configKey {
	out := make(map[string]configKey)
	var walk func(name, path string, t reflect.Type)
	walk = func(name, path string, t reflect.Type) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if !sf.IsExported() || tag == "" || tag == "-" {
				continue
			}
			n := name + "_" + strings.ToUpper(tag)
			p := tag
			if path != "" {
				p = path + "." + tag
			}
			if sf.Type.Kind() == reflect.Struct {
				walk(n, p, sf.Type)
				continue
			}
			out[n] = configKey{path: p, typ: sf.Type}
		}
	}
	walk(envPrefix, "", reflect.TypeFor[Config]())
	return out
})

// parse reads a variable's text as the key's type; the error says what
// the key wants.
func (k configKey) parse(s string) (any, error) {
	switch kind := k.typ.Kind(); {
	case k.typ == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, errors.New("a duration such as 1500ms, 30s or 15m")
		}
		return d, nil
	case kind == reflect.String:
		return s, nil
	case kind == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, errors.New("true or false")
		}
		return b, nil
	case kind >= reflect.Int && kind <= reflect.Int64:
		n, err := strconv.ParseInt(s, 10, k.typ.Bits())
		if err != nil {
			return nil, errors.New("an integer")
		}
		return n, nil
	case kind == reflect.Float32 || kind == reflect.Float64:
		x, err := strconv.ParseFloat(s, k.typ.Bits())
		if err != nil {
			return nil, errors.New("a number")
		}
		return x, nil
	}
	return nil, fmt.Errorf("a %s, which the environment cannot set", k.typ)
}

// resolve fills in what the profile leaves to the environment of the
// process: the test profile's temporary data dir, the paths under the data
// dir and a development JWT secret.
func (c *Config) resolve() error {
	if c.DataDir == "" && c.Profile == ProfileTest {
		dir, err := os.MkdirTemp("", "fechatter-test-*")
		if err != nil {
			return fmt.Errorf("config: temporary data dir: %w", err)
		}
		c.DataDir, c.tempDataDir = dir, dir
	}
	if c.NATS.Embedded() && c.NATS.StoreDir == "" && c.DataDir != "" {
		c.NATS.StoreDir = filepath.Join(c.DataDir, "nats")
	}
	if c.Search.Backend == SearchBleve && c.Search.Dir == "" && c.DataDir != "" {
		c.Search.Dir = filepath.Join(c.DataDir, "search")
	}
	if c.Files.Backend == "" {
		c.Files.Backend = FilesDir
	}
	if c.Files.Backend == FilesDir && c.Files.Dir == "" && c.DataDir != "" {
		c.Files.Dir = filepath.Join(c.DataDir, "files")
	}
	if c.Auth.JWTSecret == "" && c.Auth.GenerateSecret && c.DataDir != "" {
		secret, err := loadOrCreateSecret(filepath.Join(c.DataDir, "jwt.secret"))
		if err != nil {
			return fmt.Errorf("config: development JWT secret: %w", err)
		}
		c.Auth.JWTSecret = secret
	}
	return nil
}

// loadOrCreateSecret returns the secret kept in path, creating it (mode
// 0600, 32 random bytes, base64) when missing. The file appears complete or
// not at all (written aside, then hard-linked into place), so processes
// starting together agree on one secret.
func loadOrCreateSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
		return "", fmt.Errorf("%s is empty; delete it to generate a new secret", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	buf := make([]byte, MinJWTSecretLen)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	secret := base64.RawURLEncoding.EncodeToString(buf)
	f, err := os.CreateTemp(dir, ".jwt.secret-*") // mode 0600
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Link(f.Name(), path); errors.Is(err, fs.ErrExist) {
		return loadOrCreateSecret(path) // another process won: use theirs
	} else if err != nil {
		return "", err
	}
	return secret, nil
}

// Cleanup removes what Load created for this process alone (the test
// profile's temporary data dir). It is safe to call more than once.
func (c Config) Cleanup() error {
	if c.tempDataDir == "" {
		return nil
	}
	return os.RemoveAll(c.tempDataDir)
}

// Warnings returns problems found while loading that do not stop the process.
func (c Config) Warnings() []string { return slices.Clone(c.warnings) }

// ConfigError lists every problem found by Validate.
type ConfigError struct {
	Profile  string
	Problems []string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration (profile %s):", e.Profile)
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

// Validate checks every section and reports all problems at once, each with
// the setting and the variable that fixes it.
func (c Config) Validate() error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	if _, port, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		add("http.addr %q is not host:port (FECHATTER_HTTP_ADDR or --addr)", c.HTTP.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		add("http.addr %q has an invalid port (FECHATTER_HTTP_ADDR or --addr)", c.HTTP.Addr)
	}
	if c.HTTP.BodyLimit <= 0 {
		add("http.body_limit must be a positive number of bytes, got %d", c.HTTP.BodyLimit)
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		add("http.shutdown_timeout must be positive, got %s", c.HTTP.ShutdownTimeout)
	}

	if c.Database.URL == "" {
		add("database.url is empty: set DATABASE_URL")
	} else if u, err := url.Parse(c.Database.URL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || strings.Trim(u.Path, "/") == "" {
		add("database.url %q must be postgres://user@host:port/dbname (DATABASE_URL)", redactURL(c.Database.URL))
	}
	if c.Database.MaxOpenConns <= 0 {
		add("database.max_open_conns must be positive, got %d", c.Database.MaxOpenConns)
	}
	if c.Database.MaxIdleConns < 0 || c.Database.MaxIdleConns > c.Database.MaxOpenConns {
		add("database.max_idle_conns must be 0..max_open_conns (%d), got %d", c.Database.MaxOpenConns, c.Database.MaxIdleConns)
	}
	if c.Database.SendWriters < 1 || c.Database.SendWriters > 16 {
		add("database.send_writers must be 1..16, got %d", c.Database.SendWriters)
	}
	if c.Database.SendBatch < 1 || c.Database.SendBatch > 10000 {
		add("database.send_batch must be 1..10000, got %d", c.Database.SendBatch)
	}

	switch c.NATS.Mode {
	case NATSEmbedded:
		if c.NATS.StoreDir == "" {
			add("nats.store_dir is empty and there is no data_dir to put it in (FECHATTER_DATA_DIR)")
		}
	case NATSExternal:
		if c.NATS.URL == "" {
			add("nats.url is empty: set NATS_URL (nats.mode is external)")
		}
	default:
		add("nats.mode must be %q or %q, got %q", NATSEmbedded, NATSExternal, c.NATS.Mode)
	}
	if c.NATS.Replicas < 1 || c.NATS.Replicas > 5 {
		add("nats.replicas must be 1 to 5 (JetStream's limit), got %d", c.NATS.Replicas)
	}
	if c.NATS.Stream == "" || strings.ContainsAny(c.NATS.Stream, " .*>") {
		add("nats.stream %q must be a non-empty name without spaces, dots or wildcards", c.NATS.Stream)
	}
	if c.NATS.SubjectPrefix == "" || strings.ContainsAny(c.NATS.SubjectPrefix, " *>") {
		add("nats.subject_prefix %q must be a non-empty subject without spaces or wildcards", c.NATS.SubjectPrefix)
	}

	switch c.Files.Backend {
	case FilesDir:
		if c.Profile == ProfileProduction {
			add("files.backend must be %q in production (files.s3.*, S3_ENDPOINT, S3_BUCKET)", FilesS3)
		} else if c.Files.Dir == "" {
			add("files.dir is empty and there is no data_dir to put it in (FECHATTER_DATA_DIR)")
		}
	case FilesS3:
		if c.Files.S3.Endpoint == "" || c.Files.S3.Bucket == "" {
			add("files.s3.endpoint and files.s3.bucket are required for the s3 backend (S3_ENDPOINT, S3_BUCKET)")
		}
		if c.Profile == ProfileProduction && (c.Files.S3.AccessKey == "" || c.Files.S3.SecretKey == "") {
			add("files.s3.access_key and secret_key are required in production (S3_ACCESS_KEY, S3_SECRET_KEY)")
		}
	default:
		add("files.backend must be %q or %q, got %q", FilesDir, FilesS3, c.Files.Backend)
	}
	if c.Limits.FileMaxBytes < 0 || c.Limits.WorkspaceStorageBytes < 0 {
		add("limits.file_max_bytes and limits.workspace_storage_bytes must not be negative")
	}

	switch c.Search.Backend {
	case SearchBleve:
		if c.Search.Dir == "" {
			add("search.dir is empty and there is no data_dir to put it in (FECHATTER_DATA_DIR)")
		}
	case SearchMeili:
		if c.Search.MeiliURL == "" {
			add("search.meili_url is empty: set MEILI_URL (search.backend is meili)")
		} else if u, err := url.Parse(c.Search.MeiliURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("search.meili_url %q must be an http(s) URL (MEILI_URL)", c.Search.MeiliURL)
		}
		if c.Profile == ProfileProduction && c.Search.MeiliKey == "" {
			add("search.meili_key is empty: set MEILI_MASTER_KEY (required in production)")
		}
	case SearchMemory:
		if c.Profile == ProfileProduction {
			add("search.backend %q is the test adapter; production uses %q or %q", SearchMemory, SearchMeili, SearchBleve)
		}
	default:
		add("search.backend must be %q, %q or %q, got %q", SearchBleve, SearchMeili, SearchMemory, c.Search.Backend)
	}
	if c.Search.BatchSize < 1 {
		add("search.batch_size must be at least 1, got %d", c.Search.BatchSize)
	}
	if c.Search.BatchTimeout <= 0 {
		add("search.batch_timeout must be positive, got %s", c.Search.BatchTimeout)
	}

	switch {
	case c.Auth.JWTSecret == "" && c.Profile == ProfileProduction:
		add("auth.jwt_secret is empty: set FECHATTER_JWT_SECRET to at least %d bytes (production reads secrets from the environment only)", MinJWTSecretLen)
	case c.Auth.JWTSecret == "":
		add("auth.jwt_secret is empty: set FECHATTER_JWT_SECRET to at least %d bytes", MinJWTSecretLen)
	case len(c.Auth.JWTSecret) < MinJWTSecretLen:
		add("auth.jwt_secret is %d bytes long: FECHATTER_JWT_SECRET needs at least %d", len(c.Auth.JWTSecret), MinJWTSecretLen)
	}
	if c.Profile == ProfileProduction && c.Auth.GenerateSecret {
		add("auth.generate_secret must be false in production")
	}
	if c.Auth.AccessTTL <= 0 {
		add("auth.access_ttl must be positive, got %s", c.Auth.AccessTTL)
	}
	if c.Auth.RefreshTTL <= c.Auth.AccessTTL {
		add("auth.refresh_ttl (%s) must be longer than auth.access_ttl (%s)", c.Auth.RefreshTTL, c.Auth.AccessTTL)
	}
	for _, l := range []struct {
		name string
		WindowLimit
	}{
		{"auth.signin_limit.per_email", c.Auth.SigninLimit.PerEmail},
		{"auth.signin_limit.per_address", c.Auth.SigninLimit.PerAddress},
	} {
		if l.Max < 1 || l.Window <= 0 {
			add("%s needs max >= 1 and a positive window, got max %d per %s", l.name, l.Max, l.Window)
		}
	}

	if c.Limits.GroupMembers < 2 {
		add("limits.group_members must be at least 2, got %d", c.Limits.GroupMembers)
	}
	if c.Limits.ChannelMembers < 2 {
		add("limits.channel_members must be at least 2, got %d", c.Limits.ChannelMembers)
	}
	if c.Limits.SendRate.PerSecond <= 0 || c.Limits.SendRate.Burst < 1 {
		add("limits.send_rate needs per_second > 0 and burst >= 1, got %g/s burst %d", c.Limits.SendRate.PerSecond, c.Limits.SendRate.Burst)
	}

	if c.Presence.Heartbeat <= 0 {
		add("presence.heartbeat must be positive, got %s", c.Presence.Heartbeat)
	}
	if c.Presence.AwayAfter <= c.Presence.Heartbeat {
		add("presence.away_after (%s) must be longer than presence.heartbeat (%s)", c.Presence.AwayAfter, c.Presence.Heartbeat)
	}

	if _, err := parseLevel(c.Log.Level); err != nil {
		add("log.level: %v (FECHATTER_LOG_LEVEL)", err)
	}
	if c.Log.Format != LogConsole && c.Log.Format != LogJSON {
		add("log.format must be %q or %q, got %q (FECHATTER_LOG_FORMAT)", LogConsole, LogJSON, c.Log.Format)
	}

	if len(p) > 0 {
		return &ConfigError{Profile: c.Profile, Problems: p}
	}
	return nil
}

// redactURL hides the password of a URL, for messages and logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparsable URL>"
	}
	return u.Redacted()
}
