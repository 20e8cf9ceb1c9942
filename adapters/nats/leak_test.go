package nats_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine they started (a
// consumer, a watcher, a relay, an embedded server) is still running when
// they are done.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
