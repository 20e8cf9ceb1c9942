package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/fx"
	"go.uber.org/zap"

	natsadapter "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports"
)

// natsModule connects to NATS (starting it inside the process in the
// embedded mode), makes sure the stream exists, and runs the outbox relay.
func natsModule(cfg Config) fx.Option {
	return fx.Module("nats",
		fx.Provide(
			newNATSConn,
			func(nc *natsgo.Conn) (jetstream.JetStream, error) { return jetstream.New(nc) },
			func() natsadapter.StreamConfig {
				return natsadapter.StreamConfig{Name: cfg.NATS.Stream, Prefix: cfg.NATS.SubjectPrefix, Replicas: cfg.NATS.Replicas}
			},
			func(js jetstream.JetStream, sc natsadapter.StreamConfig) (ports.EventPublisher, error) {
				return natsadapter.NewPublisher(js, sc, natsadapter.DefaultPublishTimeout)
			},
			func(nc *natsgo.Conn, log *zap.Logger) (ports.EventSubscriber, error) {
				return natsadapter.NewSubscriber(nc, cfg.NATS.SubjectPrefix, log.Named("nats"))
			},
			fx.Annotate(natsReadyCheck, fx.ResultTags(`group:"ready"`)),
			fx.Annotate(natsHealthCheck, fx.ResultTags(`group:"health"`)),
			newOutboxRelay,
		),
		fx.Invoke(ensureStream, runOutboxRelay),
	)
}

func newNATSConn(lc fx.Lifecycle, cfg Config, log *zap.Logger) (*natsgo.Conn, error) {
	log = log.Named("nats")
	url := cfg.NATS.URL
	var embedded *natsadapter.Embedded
	if cfg.NATS.Embedded() {
		var err error
		embedded, err = natsadapter.StartEmbedded(natsadapter.EmbeddedConfig{StoreDir: cfg.NATS.StoreDir}, log)
		if err != nil {
			return nil, fmt.Errorf("start embedded nats: %w", err)
		}
		url = embedded.ClientURL()
		log.Info("embedded server started", zap.String("url", url), zap.String("store_dir", cfg.NATS.StoreDir))
	}
	nc, err := natsadapter.Connect(url, "fechatter", log)
	if err != nil {
		if embedded != nil {
			embedded.Shutdown()
		}
		return nil, fmt.Errorf("connect to nats at %s: %w", url, err)
	}
	lc.Append(fx.Hook{OnStop: func(context.Context) error {
		if err := nc.Drain(); err != nil {
			// Shutting down while NATS is away: nothing to drain.
			log.Warn("nats drain failed; closing", zap.Error(err))
			nc.Close()
		}
		if embedded != nil {
			// Drain is asynchronous; give it a moment before the server goes.
			deadline := time.Now().Add(2 * time.Second)
			for !nc.IsClosed() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			embedded.Shutdown()
		}
		return nil
	}})
	return nc, nil
}

func ensureStream(lc fx.Lifecycle, js jetstream.JetStream, sc natsadapter.StreamConfig) {
	lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
		_, err := natsadapter.EnsureStream(ctx, js, sc)
		return err
	}})
}

func natsReadyCheck(nc *natsgo.Conn, js jetstream.JetStream) ReadyCheck {
	return ReadyCheck{Name: "nats", Check: func(ctx context.Context) error {
		if !nc.IsConnected() {
			return errors.New("nats not connected")
		}
		if _, err := js.AccountInfo(ctx); err != nil {
			return fmt.Errorf("jetstream unavailable: %w", err)
		}
		return nil
	}}
}

// natsHealthCheck is the readiness check: connected, and JetStream answers.
func natsHealthCheck(nc *natsgo.Conn, js jetstream.JetStream) HealthCheck {
	return HealthCheck{Name: healthNATS, Check: query.HealthCheck(natsReadyCheck(nc, js).Check)}
}

func newOutboxRelay(store ports.OutboxStore, pub ports.EventPublisher, log *zap.Logger) (*event.OutboxRelay, error) {
	return event.NewOutboxRelay(store, pub, log.Named("relay"), event.RelayOptions{})
}

// runOutboxRelay runs the relay for the life of the app; on stop it flushes
// what is pending, as far as the shutdown budget allows (what is left is
// published by the next start: rows leave the outbox only once published).
func runOutboxRelay(lc fx.Lifecycle, relay *event.OutboxRelay, log *zap.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() {
				defer close(done)
				_ = relay.Run(ctx)
			}()
			return nil
		},
		OnStop: func(stopCtx context.Context) error {
			cancel()
			<-done
			if err := relay.Flush(stopCtx); err != nil {
				log.Warn("outbox not fully flushed at shutdown; the next start publishes the rest", zap.Error(err))
			}
			return nil
		},
	})
}
