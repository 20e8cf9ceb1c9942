package bootstrap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/fx"
	"go.uber.org/zap"

	natsadapter "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/adapters/ws"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/presence"
	"github.com/fechatter/fechatter/ports"
)

// presenceKVTimeout bounds creating the presence bucket.
const presenceKVTimeout = 30 * time.Second

// presenceModule runs presence and typing: the presence bucket of the
// NATS connection (TTL three heartbeats, each instance rewriting its
// entries every heartbeat), typing over plain NATS, last seen in Postgres,
// this instance's LocalPresence swept every second, and the watcher that
// merges every instance's entries and fans changes out through the
// WebSocket gateway. It comes before the HTTP and WebSocket modules, so
// on stop the sockets close (recording their disconnects) before it stops.
func presenceModule(cfg Config) fx.Option {
	return fx.Module("presence",
		fx.Provide(
			newPresenceStore,
			func(nc *natsgo.Conn) (ports.SignalPublisher, error) {
				return natsadapter.NewSignalPublisher(nc, cfg.NATS.SubjectPrefix)
			},
			fx.Annotate(postgres.NewLastSeenRepository, fx.As(new(ports.LastSeenRepository))),
			newLocalPresence,
			newPresenceWatcher,
			func(w *event.PresenceWatcher) query.PresenceView { return w },
		),
		fx.Invoke(runPresence),
	)
}

// presenceTTL is how long an instance's entries outlive its last rewrite:
// three heartbeats, so one or two missed rewrites do not flap anyone.
func presenceTTL(cfg Config) time.Duration { return 3 * cfg.Presence.Heartbeat }

func newPresenceStore(js jetstream.JetStream, cfg Config, log *zap.Logger) (ports.PresenceStore, error) {
	ctx, cancel := context.WithTimeout(context.Background(), presenceKVTimeout)
	defer cancel()
	return natsadapter.EnsurePresenceKV(ctx, js, natsadapter.PresenceKVConfig{
		Bucket: presenceBucket(cfg), TTL: presenceTTL(cfg), Replicas: cfg.NATS.Replicas}, log.Named("presence"))
}

// presenceBucket follows the stream's name, so that deployments (and
// tests) with their own stream have their own bucket.
func presenceBucket(cfg Config) string {
	if cfg.NATS.Stream == "" {
		return natsadapter.DefaultPresenceBucket
	}
	return cfg.NATS.Stream + "_PRESENCE"
}

func newLocalPresence(store ports.PresenceStore, lastSeen ports.LastSeenRepository, signals ports.SignalPublisher,
	clock ports.Clock, cfg Config, log *zap.Logger) *command.LocalPresence {
	return command.NewLocalPresence(store, lastSeen, signals, clock, log.Named("presence"), command.PresenceOptions{
		Instance: instanceName(),
		// Offline after at most one heartbeat without a connection.
		Rules:   presence.Rules{AwayAfter: cfg.Presence.AwayAfter, Grace: cfg.Presence.Heartbeat},
		Refresh: cfg.Presence.Heartbeat,
	})
}

func newPresenceWatcher(store ports.PresenceStore, chats query.MemberChats, clock ports.Clock, log *zap.Logger) *event.PresenceWatcher {
	return event.NewPresenceWatcher(store, chats, clock, log.Named("presence"), event.PresenceWatcherOptions{})
}

var notInstanceChar = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// instanceName names this process in the presence bucket: the host name
// (for people reading the bucket) and a random suffix (two processes on
// one host, or a restart, never share entries).
func instanceName() string {
	host, _ := os.Hostname()
	host = notInstanceChar.ReplaceAllString(host, "-")
	if len(host) > 40 {
		host = host[:40]
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	if host == "" {
		return hex.EncodeToString(b[:])
	}
	return host + "-" + hex.EncodeToString(b[:])
}

// runPresence starts the watcher (its initial load before the server
// takes requests) with the gateway as its notifier, and sweeps; on stop it
// saves the last seen times not saved yet.
func runPresence(lc fx.Lifecycle, local *command.LocalPresence, watcher *event.PresenceWatcher, gw *ws.Gateway, log *zap.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(startCtx context.Context) error {
			if err := watcher.Start(startCtx, gw); err != nil {
				cancel()
				close(done)
				return fmt.Errorf("watch presence: %w", err)
			}
			go func() {
				defer close(done)
				_ = local.Run(ctx)
			}()
			log.Info("presence started", zap.String("instance", local.Instance()))
			return nil
		},
		OnStop: func(context.Context) error {
			cancel()
			<-done
			watcher.Stop()
			return nil
		},
	})
}
