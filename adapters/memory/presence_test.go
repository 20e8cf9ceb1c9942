package memory_test

import (
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

func TestPresenceStore(t *testing.T) {
	t.Parallel()
	porttest.RunPresenceStore(t, func(t *testing.T, ttl, entryTTL time.Duration) ports.PresenceStore {
		return memory.NewPresenceStore(memory.SystemClock{}, ttl, entryTTL)
	})
}

func TestLastSeenRepository(t *testing.T) {
	t.Parallel()
	repo := memory.NewLastSeenRepository()
	porttest.RunLastSeenRepository(t, func(*testing.T) ports.LastSeenRepository { return repo })
}
