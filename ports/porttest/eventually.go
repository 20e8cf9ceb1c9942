package porttest

import (
	"testing"
	"time"
)

// Eventually polls cond until it holds and fails t after within: the one
// poll-until-deadline of the test suites (no sleeps to wait for a state,
// no timed assertions). what names the awaited state in the failure.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Within(within, cond) {
		t.Fatalf("timed out after %s waiting for %s", within, what)
	}
}

// Within polls cond until it holds (true) or within has passed (false),
// for callers that report the failure themselves.
func Within(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
	return true
}
