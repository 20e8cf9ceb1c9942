package application

import (
	"context"
	"time"

	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
)

// SendMessageHandler handles SendMessage. App holds it as an interface so
// that decorators (metrics, logging) can wrap command.SendMessageHandler
// without the handler knowing.
type SendMessageHandler interface {
	Handle(ctx context.Context, cmd command.SendMessage) (msg query.Message, replay bool, err error)
}

var _ SendMessageHandler = command.SendMessageHandler{}

// SendObserver is told of every SendMessage handled, for metrics: how long
// it took, whether it was an idempotent replay, and its error (nil when the
// message was sent or replayed).
type SendObserver interface {
	SendHandled(took time.Duration, replay bool, err error)
}

// MeasureSends returns next decorated to report every send to obs. The
// handler itself stays free of metrics.
func MeasureSends(next SendMessageHandler, obs SendObserver) SendMessageHandler {
	if next == nil || obs == nil {
		panic("application: MeasureSends needs a handler and an observer")
	}
	return measuredSends{next: next, obs: obs}
}

type measuredSends struct {
	next SendMessageHandler
	obs  SendObserver
}

func (m measuredSends) Handle(ctx context.Context, cmd command.SendMessage) (query.Message, bool, error) {
	start := time.Now()
	msg, replay, err := m.next.Handle(ctx, cmd)
	m.obs.SendHandled(time.Since(start), replay, err)
	return msg, replay, err
}
