package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/uptrace/bun"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/configs"
)

// Set at build time:
//
//	go build -ldflags "-X github.com/fechatter/fechatter/bootstrap.version=v1.2.3 -X github.com/fechatter/fechatter/bootstrap.commit=abc1234"
var (
	version = "dev"
	commit  = "dev"
)

// Exit codes of Main.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// Main runs the fechatter command line with args (without the program name)
// and returns the process exit code. SIGINT and SIGTERM cancel the command's
// context: serve then shuts down gracefully.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, os.Stdout, os.Stderr, os.Environ())
}

// cli holds what every command needs from the process.
type cli struct {
	stdout, stderr io.Writer
	environ        []string
	profile        string // --profile
}

type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	c := &cli{stdout: stdout, stderr: stderr, environ: environ}
	root := c.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var code exitCodeError
	var usage usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "fechatter: %v\nRun 'fechatter --help' for usage.\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "fechatter: %v\n", err)
		return exitError
	}
}

func (c *cli) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "fechatter",
		Short: "Fechatter team chat server",
		Long: "Fechatter is a team chat backend: workspaces, direct messages, groups and\n" +
			"channels, real-time delivery over WebSocket, receipts, presence and search.",
		SilenceUsage:  true,
		SilenceErrors: true,
		// No Args and no Run: a bare `fechatter` prints help, and an unknown
		// command is an error.
	}
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&c.profile, "profile", "",
		fmt.Sprintf("configuration profile: one of %v (default $FECHATTER_PROFILE or local)", configs.Profiles()))
	root.AddCommand(c.serveCommand(), c.migrateCommand(), c.searchCommand(), c.benchCommand(), c.versionCommand())
	return root
}

func (c *cli) serveCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server until SIGINT or SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := c.load(addr)
			if err != nil {
				return err
			}
			err = serve(cmd.Context(), cfg, log, pprofModule(c.environ))
			_ = cfg.Cleanup() // in case the app never got to stop
			_ = log.Sync()
			return err
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "HTTP listen address host:port (beats $FECHATTER_HTTP_ADDR)")
	return cmd
}

// load reads the configuration and builds the logger, logging the
// configuration's warnings.
func (c *cli) load(addr string) (Config, *zap.Logger, error) {
	cfg, err := Load(LoadOptions{Profile: c.profile, Addr: addr, Environ: c.environ})
	if err != nil {
		return Config{}, nil, err
	}
	log, err := NewLogger(cfg.Log, c.stderr)
	if err != nil {
		_ = cfg.Cleanup()
		return Config{}, nil, err
	}
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	return cfg, log, nil
}

func (c *cli) migrateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Manage the database schema",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "up",
			Short: "Apply pending migrations (creating the database first if the profile allows)",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return c.withDatabase(cmd.Context(), true, func(ctx context.Context, db *bun.DB) error {
					before, err := postgres.Status(ctx, db)
					if err != nil {
						return err
					}
					merr := postgres.Migrate(ctx, db)
					// Report what this run applied, also when it stopped halfway.
					after, err := postgres.Status(ctx, db)
					if err != nil {
						return errors.Join(merr, err)
					}
					applied := make(map[string]bool, len(after))
					for _, m := range after {
						applied[m.Name] = m.Applied
					}
					n := 0
					for _, m := range before {
						if !m.Applied && applied[m.Name] {
							fmt.Fprintf(c.stdout, "applied %s\n", m.Name)
							n++
						}
					}
					if merr != nil {
						return merr
					}
					if n == 0 {
						fmt.Fprintln(c.stdout, "database is up to date")
					}
					return nil
				})
			},
		},
		&cobra.Command{
			Use:   "down",
			Short: "Roll back the last group of migrations applied together",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return c.withDatabase(cmd.Context(), false, func(ctx context.Context, db *bun.DB) error {
					names, err := postgres.Rollback(ctx, db)
					for _, n := range names {
						fmt.Fprintf(c.stdout, "rolled back %s\n", n)
					}
					if err == nil && len(names) == 0 {
						fmt.Fprintln(c.stdout, "nothing to roll back")
					}
					return err
				})
			},
		},
		&cobra.Command{
			Use:   "status",
			Short: "List migrations and whether each is applied",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return c.withDatabase(cmd.Context(), false, func(ctx context.Context, db *bun.DB) error {
					ms, err := postgres.Status(ctx, db)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "MIGRATION\tSTATUS\tGROUP\tAPPLIED AT")
					for _, m := range ms {
						if m.Applied {
							fmt.Fprintf(tw, "%s\tapplied\t%d\t%s\n", m.Name, m.GroupID, m.MigratedAt.UTC().Format(time.RFC3339))
						} else {
							fmt.Fprintf(tw, "%s\tpending\t\t\n", m.Name)
						}
					}
					return tw.Flush()
				})
			},
		},
	)
	return cmd
}

// withDatabase loads the configuration, optionally creates the database
// (when the profile has database.auto_create), opens it and runs fn.
func (c *cli) withDatabase(ctx context.Context, create bool, fn func(context.Context, *bun.DB) error) error {
	return c.withConfigAndDatabase(ctx, create, func(ctx context.Context, _ Config, db *bun.DB) error { return fn(ctx, db) })
}

// withConfigAndDatabase is withDatabase for commands that also need the
// configuration it loaded.
func (c *cli) withConfigAndDatabase(ctx context.Context, create bool, fn func(context.Context, Config, *bun.DB) error) error {
	cfg, log, err := c.load("")
	if err != nil {
		return err
	}
	defer func() { _ = cfg.Cleanup() }()
	defer func() { _ = log.Sync() }()
	openCtx, cancel := context.WithTimeout(ctx, dbOpenTimeout)
	defer cancel()
	if create && cfg.Database.AutoCreate {
		if err := postgres.EnsureDatabase(openCtx, cfg.Database.URL); err != nil {
			return err
		}
	}
	db, err := postgres.Open(openCtx, cfg.Database.URL, postgres.WithMaxOpenConns(2))
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(ctx, cfg, db)
}

func (c *cli) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(c.stdout, "fechatter %s (commit %s, %s, %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
