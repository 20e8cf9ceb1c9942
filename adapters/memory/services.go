package memory

import (
	"context"
	"sync"
	"time"

	"github.com/fechatter/fechatter/adapters/system"
	"github.com/fechatter/fechatter/ports"
)

var (
	_ ports.Clock           = SystemClock{}
	_ ports.Clock           = (*FakeClock)(nil)
	_ ports.RateLimiter     = (*RateLimiter)(nil)
	_ ports.SecretGenerator = SecretGenerator{}
)

// SystemClock and SecretGenerator are the production services (package
// system), named here for the tests and tools that use this package.
type (
	SystemClock     = system.Clock
	SecretGenerator = system.SecretGenerator
)

// FakeClock stands still until a test moves it.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a clock showing t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set shows t from now on.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// RateLimiter allows at most limit attempts per key in any sliding window
// of the given length. Refused attempts are not counted, so retryAfter is
// exact: by then the oldest counted attempt has left the window.
type RateLimiter struct {
	limit  int
	window time.Duration
	clock  ports.Clock

	mu    sync.Mutex
	hits  map[string][]time.Time // ascending
	calls int
}

// NewRateLimiter returns a limiter; a limit of 0 or less allows everything,
// and a nil clock is the system clock.
func NewRateLimiter(limit int, window time.Duration, clock ports.Clock) *RateLimiter {
	if clock == nil {
		clock = SystemClock{}
	}
	return &RateLimiter{limit: limit, window: window, clock: clock, hits: make(map[string][]time.Time)}
}

func (l *RateLimiter) Allow(_ context.Context, key string) (bool, time.Duration) {
	if l.limit <= 0 {
		return true, 0
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls++; l.calls%1024 == 0 {
		l.sweep(now)
	}
	hits := l.recent(l.hits[key], now)
	if len(hits) >= l.limit {
		l.hits[key] = hits
		return false, hits[0].Add(l.window).Sub(now)
	}
	l.hits[key] = append(hits, now)
	return true, 0
}

func (l *RateLimiter) Reset(_ context.Context, key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.hits, key)
}

// recent drops the attempts that have left the window ending at now.
func (l *RateLimiter) recent(hits []time.Time, now time.Time) []time.Time {
	cut := now.Add(-l.window)
	i := 0
	for i < len(hits) && !hits[i].After(cut) {
		i++
	}
	return hits[i:]
}

// sweep forgets keys without recent attempts, so memory follows the active
// keys rather than every key ever seen.
func (l *RateLimiter) sweep(now time.Time) {
	for k, hits := range l.hits {
		if len(l.recent(hits, now)) == 0 {
			delete(l.hits, k)
		}
	}
}
