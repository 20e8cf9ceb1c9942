package nats_test

import (
	"testing"
	"time"

	"go.uber.org/zap"

	natsadapter "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/application/event/eventtest"
	"github.com/fechatter/fechatter/ports"
)

// The JetStream pull source passes the EventBatchSource contract; every
// case has a stream of its own on one embedded server.
func TestPullSourceContract(t *testing.T) {
	srv := startEmbedded(t, natsadapter.EmbeddedConfig{StoreDir: t.TempDir()})
	t.Cleanup(srv.Shutdown)
	nc := connect(t, srv.ClientURL())
	js := jetStream(t, nc)
	eventtest.RunEventBatchSource(t, func(t *testing.T) eventtest.BatchSourceEnv {
		cfg := uniqueStream()
		ensureStream(t, js, cfg)
		pub, err := natsadapter.NewPublisher(js, cfg, 5*time.Second)
		if err != nil {
			t.Fatalf("NewPublisher: %v", err)
		}
		const ackWait = 2 * time.Second
		src, err := natsadapter.NewPullSource(ctxFor(t), js, natsadapter.PullConsumerConfig{Stream: cfg, AckWait: ackWait}, zap.NewNop())
		if err != nil {
			t.Fatalf("NewPullSource: %v", err)
		}
		return eventtest.BatchSourceEnv{Source: src, AckWait: ackWait, Publish: func(t *testing.T, e ports.Event) {
			if err := pub.Publish(ctxFor(t), e); err != nil {
				t.Fatalf("Publish: %v", err)
			}
		}}
	})
}
