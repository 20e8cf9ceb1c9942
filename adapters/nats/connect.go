package nats

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// reconnectBufSize is how much a connection buffers while it reconnects;
// publishes beyond it fail at once (the outbox keeps them).
const reconnectBufSize = 8 << 20

// Connect connects to the NATS server at url under a client name. It
// reconnects forever, buffering writes while disconnected, and logs
// connection changes through log. opts are applied after these defaults.
// The first connection must succeed: a server that cannot reach NATS at
// start reports it instead of starting half-wired.
func Connect(url, name string, log *zap.Logger, opts ...nats.Option) (*nats.Conn, error) {
	if log == nil {
		log = zap.NewNop()
	}
	log = log.With(zap.String("nats_client", name))
	all := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectBufSize(reconnectBufSize),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", zap.Error(err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", zap.String("url", nc.ConnectedUrlRedacted()))
		}),
		nats.ClosedHandler(func(_ *nats.Conn) {
			log.Info("nats connection closed")
		}),
		nats.ErrorHandler(asyncErrorHandler(log)),
	}
	nc, err := nats.Connect(url, append(all, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	log.Info("nats connected", zap.String("url", nc.ConnectedUrlRedacted()))
	return nc, nil
}

// asyncErrorHandler logs the errors NATS reports outside any call. A
// consumer that missed its heartbeats (the key-value watchers' consumers
// while NATS is away) is what an outage looks like, and the client
// recreates it when NATS is back: a warning, not an error with a stack
// trace (issue 19 saw those in every NATS outage).
func asyncErrorHandler(log *zap.Logger) nats.ErrHandler {
	return func(_ *nats.Conn, sub *nats.Subscription, err error) {
		fields := []zap.Field{zap.Error(err)}
		if sub != nil {
			fields = append(fields, zap.String("subject", sub.Subject))
		}
		if errors.Is(err, nats.ErrConsumerNotActive) {
			log.Warn("nats consumer missed its heartbeats (NATS away?); recreated when it is back", fields...)
			return
		}
		log.Error("nats async error", fields...)
	}
}
