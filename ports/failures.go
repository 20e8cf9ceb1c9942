package ports

import (
	"context"
	"time"
)

// FailureLimiter slows down repeated failures of a key (an email, a client
// address) without ever counting successes: after Free failures each
// further one makes the key wait Base, 2*Base, 4*Base ... up to Max before
// its next attempt. A success Resets the key; failures older than Forget
// are forgotten. Implementations share the state across instances.
type FailureLimiter interface {
	// Wait reports how long key must still wait (0: it may try now).
	Wait(ctx context.Context, key string) (time.Duration, error)
	// Fail records a failure of key and returns the wait it now has.
	Fail(ctx context.Context, key string) (time.Duration, error)
	// Reset forgets key's failures.
	Reset(ctx context.Context, key string) error
}

// BackoffPolicy is the arithmetic FailureLimiters share.
type BackoffPolicy struct {
	Free   int
	Base   time.Duration
	Max    time.Duration
	Forget time.Duration
}

// Delay is the wait after the n-th consecutive failure.
func (p BackoffPolicy) Delay(n int) time.Duration {
	if n <= p.Free {
		return 0
	}
	d := p.Base
	for i := p.Free + 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}
