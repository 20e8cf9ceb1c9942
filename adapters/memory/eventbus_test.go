package memory_test

import (
	"testing"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

func TestEventBus(t *testing.T) {
	porttest.RunEventBus(t, func(t *testing.T) (ports.EventPublisher, ports.EventSubscriber) {
		bus := memory.NewEventBus()
		return bus, bus
	})
}
