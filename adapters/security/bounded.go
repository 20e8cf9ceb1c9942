package security

import (
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// BoundedHasher lets at most n password hashes (or verifications) run at
// once server-wide: each argon2id hash holds its memory cost (19 MiB by
// default) while it runs, so a flood of sign-ups must queue, not allocate.
// Hash waits up to wait for a slot and then fails RateLimited (429 with
// Retry-After); Verify waits for a slot (sign-in is limited before it).
type BoundedHasher struct {
	inner ports.PasswordHasher
	slots chan struct{}
	wait  time.Duration
}

var _ ports.PasswordHasher = (*BoundedHasher)(nil)

// NewBoundedHasher bounds inner to n concurrent hashes (n < 1 means 1).
func NewBoundedHasher(inner ports.PasswordHasher, n int, wait time.Duration) *BoundedHasher {
	if n < 1 {
		n = 1
	}
	return &BoundedHasher{inner: inner, slots: make(chan struct{}, n), wait: wait}
}

// Hash hashes when a slot frees up within the wait.
func (b *BoundedHasher) Hash(password string) (string, error) {
	t := time.NewTimer(b.wait)
	defer t.Stop()
	select {
	case b.slots <- struct{}{}:
	case <-t.C:
		return "", errs.RateLimitedf(time.Second, "the server is busy hashing passwords; retry in a second")
	}
	defer func() { <-b.slots }()
	return b.inner.Hash(password)
}

// Verify checks a password once a slot is free.
func (b *BoundedHasher) Verify(encoded, password string) bool {
	b.slots <- struct{}{}
	defer func() { <-b.slots }()
	return b.inner.Verify(encoded, password)
}
