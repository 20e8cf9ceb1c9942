package memory_test

import (
	"testing"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

func TestSearchIndex(t *testing.T) {
	shared := memory.NewSearchIndex()
	porttest.RunSearchIndex(t, func(*testing.T) ports.SearchIndex { return shared })
}
