package postgres_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine they started (the
// send writers, the outbox listener, a relay) is still running when they
// are done.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
