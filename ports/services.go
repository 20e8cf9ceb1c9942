package ports

import (
	"context"
	"time"
)

// Clock tells the time; tests use a fake one.
type Clock interface {
	Now() time.Time
}

// PasswordHasher hashes passwords with a slow hash.
type PasswordHasher interface {
	Hash(password string) (string, error)
	// Verify reports whether password matches hash.
	Verify(hash, password string) bool
}

// AccessClaims is what an access token says about its bearer.
type AccessClaims struct {
	UserID      int64
	WorkspaceID int64
	SessionID   string // the refresh-token family the token was issued for
	ExpiresAt   time.Time
}

// TokenIssuer issues and checks short-lived signed access tokens.
type TokenIssuer interface {
	Issue(c AccessClaims) (token string, err error)
	// Verify checks signature and expiry; errs.Unauthenticated if bad.
	Verify(token string) (AccessClaims, error)
	TTL() time.Duration
}

// SecretGenerator makes random opaque strings: refresh tokens, invite codes.
type SecretGenerator interface {
	// Secret returns a URL-safe random string of about nbytes of entropy.
	Secret(nbytes int) string
}

// RateLimiter allows a bounded number of events per key and window.
type RateLimiter interface {
	// Allow records one attempt for key and reports whether it is allowed;
	// when not, retryAfter says when the next one would be.
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration)
	// Reset forgets the attempts of key (a successful sign-in, say).
	Reset(ctx context.Context, key string)
}
