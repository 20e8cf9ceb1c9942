package nats

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// defaultNATSPort is the port an external NATS listens on; the embedded
// server never takes it.
const defaultNATSPort = 4222

// EmbeddedConfig configures the in-process NATS server.
type EmbeddedConfig struct {
	// StoreDir holds JetStream's files. Required.
	StoreDir string
	// Port is the loopback port to listen on; 0 picks a free one. Restarting
	// on the port of a previous server lets its clients reconnect.
	Port int
	// ReadyTimeout bounds the wait for the server to accept clients
	// (default 10s).
	ReadyTimeout time.Duration
}

// Embedded is a nats-server with JetStream running inside this process,
// listening on 127.0.0.1 only.
type Embedded struct {
	srv  *server.Server
	port int
}

// StartEmbedded starts the server and waits until it accepts connections.
func StartEmbedded(cfg EmbeddedConfig, log *zap.Logger) (*Embedded, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("embedded nats: StoreDir is required")
	}
	if cfg.Port == defaultNATSPort {
		return nil, fmt.Errorf("embedded nats: port %d is left to an external NATS", defaultNATSPort)
	}
	if cfg.Port < 0 {
		return nil, fmt.Errorf("embedded nats: invalid port %d", cfg.Port)
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	if log == nil {
		log = zap.NewNop()
	}
	port := cfg.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName:             "fechatter-embedded",
		Host:                   "127.0.0.1",
		Port:                   port,
		HTTPPort:               0, // no monitoring endpoint
		NoSigs:                 true,
		JetStream:              true,
		StoreDir:               cfg.StoreDir,
		DisableJetStreamBanner: true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	srv.SetLoggerV2(serverLogger{log.Named("nats-server").Sugar()}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: not ready for connections after %s", cfg.ReadyTimeout)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("embedded nats: JetStream did not start")
	}
	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("embedded nats: no client listener")
	}
	log.Info("embedded nats started", zap.String("url", srv.ClientURL()), zap.String("store_dir", cfg.StoreDir))
	return &Embedded{srv: srv, port: addr.Port}, nil
}

// ClientURL is the URL clients connect to, e.g. nats://127.0.0.1:41234.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Port is the port the server listens on.
func (e *Embedded) Port() int { return e.port }

// Shutdown stops the server and waits until it has stopped; JetStream's
// files stay in StoreDir for the next start.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// serverLogger sends nats-server's log to zap. Fatal is logged as an error:
// the server, not the logger, decides whether to stop.
type serverLogger struct{ log *zap.SugaredLogger }

func (l serverLogger) Noticef(format string, v ...any) { l.log.Infof(format, v...) }
func (l serverLogger) Warnf(format string, v ...any)   { l.log.Warnf(format, v...) }
func (l serverLogger) Fatalf(format string, v ...any)  { l.log.Errorf(format, v...) }
func (l serverLogger) Errorf(format string, v ...any)  { l.log.Errorf(format, v...) }
func (l serverLogger) Debugf(format string, v ...any)  { l.log.Debugf(format, v...) }
func (l serverLogger) Tracef(format string, v ...any)  { l.log.Debugf(format, v...) }

// NumSubscriptions is the server's count of live client subscriptions (the
// JetStream API's own included), for tests that count what a client holds.
func (e *Embedded) NumSubscriptions() uint32 { return e.srv.NumSubscriptions() }
