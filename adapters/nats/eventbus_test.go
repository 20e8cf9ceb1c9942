package nats_test

import (
	"testing"

	natsadapter "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

func TestEventBusEmbedded(t *testing.T) {
	srv := startEmbedded(t, natsadapter.EmbeddedConfig{StoreDir: t.TempDir()})
	porttest.RunEventBus(t, func(t *testing.T) (ports.EventPublisher, ports.EventSubscriber) {
		return newBus(t, srv.ClientURL())
	})
}

// TestEventBusExternal runs the contract against a NATS server outside the
// process (NATS Server 2.9 on the development machine), each test on its own
// stream and subject prefix.
func TestEventBusExternal(t *testing.T) {
	url := externalURL(t)
	porttest.RunEventBus(t, func(t *testing.T) (ports.EventPublisher, ports.EventSubscriber) {
		return newBus(t, url)
	})
}
