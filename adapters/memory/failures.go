package memory

import (
	"context"
	"sync"
	"time"

	"github.com/fechatter/fechatter/ports"
)

// FailureLimiter is a ports.FailureLimiter in this process's memory (for
// tests and single-instance runs; Postgres shares it across instances).
type FailureLimiter struct {
	policy ports.BackoffPolicy
	clock  ports.Clock
	mu     sync.Mutex
	keys   map[string]*failureState
}

type failureState struct {
	failures     int
	last         time.Time
	blockedUntil time.Time
}

var _ ports.FailureLimiter = (*FailureLimiter)(nil)

// NewFailureLimiter builds a limiter with the policy.
func NewFailureLimiter(p ports.BackoffPolicy, clock ports.Clock) *FailureLimiter {
	return &FailureLimiter{policy: p, clock: clock, keys: map[string]*failureState{}}
}

func (l *FailureLimiter) Wait(_ context.Context, key string) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st, ok := l.keys[key]; ok {
		if d := st.blockedUntil.Sub(l.clock.Now()); d > 0 {
			return d, nil
		}
	}
	return 0, nil
}

func (l *FailureLimiter) Fail(_ context.Context, key string) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	st, ok := l.keys[key]
	if !ok || now.Sub(st.last) > l.policy.Forget {
		st = &failureState{}
		l.keys[key] = st
	}
	st.failures++
	st.last = now
	d := l.policy.Delay(st.failures)
	if until := now.Add(d); until.After(st.blockedUntil) {
		st.blockedUntil = until
	}
	return max(st.blockedUntil.Sub(now), 0), nil
}

func (l *FailureLimiter) Reset(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, key)
	return nil
}
