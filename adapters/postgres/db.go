package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"
)

// Option tunes the connection pool opened by Open.
type Option func(*options)

type options struct {
	maxOpen     int
	maxIdle     int
	maxLifetime time.Duration
	maxIdleTime time.Duration
	appName     string
	hooks       []bun.QueryHook
}

// WithMaxOpenConns bounds the connections open at once (default 20).
func WithMaxOpenConns(n int) Option { return func(o *options) { o.maxOpen = n } }

// WithMaxIdleConns bounds the idle connections kept (default 10).
func WithMaxIdleConns(n int) Option { return func(o *options) { o.maxIdle = n } }

// WithConnMaxLifetime closes connections older than d (default 30 minutes).
func WithConnMaxLifetime(d time.Duration) Option { return func(o *options) { o.maxLifetime = d } }

// WithConnMaxIdleTime closes connections idle longer than d (default 5 minutes).
func WithConnMaxIdleTime(d time.Duration) Option { return func(o *options) { o.maxIdleTime = d } }

// WithApplicationName sets application_name, shown in pg_stat_activity
// (default "fechatter"; a DSN's application_name wins).
func WithApplicationName(name string) Option { return func(o *options) { o.appName = name } }

// WithQueryHook adds a bun query hook, for logging or metrics.
func WithQueryHook(h bun.QueryHook) Option { return func(o *options) { o.hooks = append(o.hooks, h) } }

// Open connects to the database of dsn (a postgres:// URL), checks that it
// answers and returns the bun handle. The caller closes it.
func Open(ctx context.Context, dsn string, opts ...Option) (*bun.DB, error) {
	o := options{maxOpen: 20, maxIdle: 10, maxLifetime: 30 * time.Minute, maxIdleTime: 5 * time.Minute, appName: "fechatter"}
	for _, opt := range opts {
		opt(&o)
	}
	connector, err := newConnector(dsn, o.appName)
	if err != nil {
		return nil, err
	}
	sqldb := sql.OpenDB(connector)
	sqldb.SetMaxOpenConns(o.maxOpen)
	sqldb.SetMaxIdleConns(o.maxIdle)
	sqldb.SetConnMaxLifetime(o.maxLifetime)
	sqldb.SetConnMaxIdleTime(o.maxIdleTime)
	db := bun.NewDB(sqldb, pgdialect.New())
	for _, h := range o.hooks {
		//lint:ignore SA1019 the WithQueryHook the deprecation points to is not in bun v1.3.0
		db.AddQueryHook(h)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: cannot reach %s: %w", Redact(dsn), err)
	}
	return db, nil
}

// newConnector parses dsn; pgdriver panics on a DSN it cannot use, which
// here becomes an error.
func newConnector(dsn, appName string) (c *pgdriver.Connector, err error) {
	if _, err := DatabaseName(dsn); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("postgres: bad DSN %s: %v", Redact(dsn), r)
		}
	}()
	return pgdriver.NewConnector(pgdriver.WithApplicationName(appName), pgdriver.WithDSN(dsn)), nil
}

// EnsureDatabase creates the database named in dsn if it does not exist,
// connecting to the server's "postgres" maintenance database to do so.
// Several processes may race to create it; all of them succeed.
func EnsureDatabase(ctx context.Context, dsn string) error {
	name, err := DatabaseName(dsn)
	if err != nil {
		return err
	}
	admin, err := WithDatabase(dsn, "postgres")
	if err != nil {
		return err
	}
	if name == "postgres" {
		return nil
	}
	db, err := Open(ctx, admin, WithMaxOpenConns(1))
	if err != nil {
		return err
	}
	defer db.Close()
	var exists bool
	if err := db.NewRaw("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = ?)", name).Scan(ctx, &exists); err != nil {
		return fmt.Errorf("postgres: look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := db.NewRaw("CREATE DATABASE ?", bun.Ident(name)).Exec(ctx); err != nil && !isCode(err, codeDuplicateDatabase, codeUniqueViolation) {
		return fmt.Errorf("postgres: create database %q: %w", name, err)
	}
	return nil
}

// DatabaseName returns the database a postgres:// DSN names.
func DatabaseName(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("postgres: bad DSN: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", fmt.Errorf("postgres: DSN must be a postgres:// URL, got scheme %q", u.Scheme)
	}
	if len(u.Path) <= 1 {
		return "postgres", nil
	}
	return u.Path[1:], nil
}

// WithDatabase returns dsn with its database replaced by name.
func WithDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("postgres: bad DSN: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", fmt.Errorf("postgres: DSN must be a postgres:// URL, got scheme %q", u.Scheme)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// Redact returns dsn without its password, for messages and logs.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "<unparsable DSN>"
	}
	return u.Redacted()
}

// SQLSTATE codes this package reacts to.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeCheckViolation      = "23514"
	codeNotNullViolation    = "23502"
	codeInvalidText         = "22P02"
	codeStringTooLong       = "22001"
	codeSerialization       = "40001"
	codeDeadlock            = "40P01"
	codeQueryCanceled       = "57014"
	codeDuplicateDatabase   = "42P04"
	codeLockNotAvailable    = "55P03"
	codeTooManyConnections  = "53300"
	codeCannotConnectNow    = "57P03"
	codeAdminShutdown       = "57P01"
)

// sqlState returns the SQLSTATE of a Postgres error, "" for other errors.
func sqlState(err error) string {
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		return pgErr.Field('C')
	}
	return ""
}

func isCode(err error, codes ...string) bool {
	c := sqlState(err)
	if c == "" {
		return false
	}
	for _, want := range codes {
		if c == want {
			return true
		}
	}
	return false
}
