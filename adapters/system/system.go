package system

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/fechatter/fechatter/ports"
)

var (
	_ ports.Clock           = Clock{}
	_ ports.SecretGenerator = SecretGenerator{}
	_ ports.RateLimiter     = (*TokenBucket)(nil)
)

// Clock is the real clock, in UTC and at the microsecond precision
// Postgres keeps, so a time answered at once equals the one read back later.
type Clock struct{}

// Now is the current time.
func (Clock) Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// SecretGenerator makes secrets from crypto/rand, base64url without padding.
type SecretGenerator struct{}

// Secret returns nbytes random bytes (32 when nbytes < 1), encoded.
func (SecretGenerator) Secret(nbytes int) string {
	if nbytes < 1 {
		nbytes = 32
	}
	b := make([]byte, nbytes)
	_, _ = rand.Read(b) // never fails: crypto/rand panics rather than return an error
	return base64.RawURLEncoding.EncodeToString(b)
}

// TokenBucket limits each key to a token bucket: perSecond tokens flow in,
// up to burst. A refused attempt takes no token, and its retryAfter is
// when the next token is there. Keys whose bucket has refilled (idle keys)
// are evicted from time to time, so memory follows the active keys.
type TokenBucket struct {
	limit rate.Limit
	burst int
	clock ports.Clock

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	calls   int
}

// sweepEvery is how many calls pass between two evictions of idle keys.
const sweepEvery = 1024

// NewTokenBucket returns a limiter of perSecond tokens per second and key,
// up to burst. perSecond or burst of 0 or less allows everything; a nil
// clock is the system clock.
func NewTokenBucket(perSecond float64, burst int, clock ports.Clock) *TokenBucket {
	if clock == nil {
		clock = Clock{}
	}
	return &TokenBucket{limit: rate.Limit(perSecond), burst: burst, clock: clock, buckets: map[string]*rate.Limiter{}}
}

// NewWindowBucket is a bucket that allows max attempts at once and max per
// window on average: burst max, refilled at max/window.
func NewWindowBucket(max int, window time.Duration, clock ports.Clock) *TokenBucket {
	if max <= 0 || window <= 0 {
		return NewTokenBucket(0, 0, clock)
	}
	return NewTokenBucket(float64(max)/window.Seconds(), max, clock)
}

// Allow takes a token of key's bucket if there is one.
func (b *TokenBucket) Allow(_ context.Context, key string) (bool, time.Duration) {
	if b.limit <= 0 || b.burst <= 0 {
		return true, 0
	}
	now := b.clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.calls++; b.calls%sweepEvery == 0 {
		b.sweep(now)
	}
	l := b.buckets[key]
	if l == nil {
		l = rate.NewLimiter(b.limit, b.burst)
		b.buckets[key] = l
	}
	if l.AllowN(now, 1) {
		return true, 0
	}
	// The wait for one token: the deficit over the fill rate.
	missing := 1 - l.TokensAt(now)
	wait := time.Duration(math.Ceil(missing / float64(b.limit) * float64(time.Second)))
	return false, max(wait, time.Millisecond)
}

// Reset forgets key's bucket (it starts full again).
func (b *TokenBucket) Reset(_ context.Context, key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.buckets, key)
}

// Len is the number of keys held (for tests of eviction).
func (b *TokenBucket) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buckets)
}

// sweep evicts the keys whose bucket is full again: forgetting them
// changes nothing, since a new bucket starts full.
func (b *TokenBucket) sweep(now time.Time) {
	for k, l := range b.buckets {
		if l.TokensAt(now) >= float64(b.burst) {
			delete(b.buckets, k)
		}
	}
}
