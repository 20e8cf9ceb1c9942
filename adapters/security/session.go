package security

import (
	"context"
	"sync"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// SessionLookup answers whether a session (refresh-token family) has ended.
type SessionLookup interface {
	FamilyRevoked(ctx context.Context, familyID string) (bool, error)
}

// SessionCheckedTokens is a ports.TokenIssuer whose Verify also refuses
// access tokens of ended sessions (logout, logout-all, password change, a
// reused refresh token). Revocations live in the database, so every instance
// sees them at once: a live session is looked up on every Verify unless
// aliveTTL > 0 caches the answer that briefly; an ended session is cached
// until its tokens would have expired anyway, since it never comes back.
type SessionCheckedTokens struct {
	ports.TokenIssuer
	sessions SessionLookup
	aliveTTL time.Duration
	now      func() time.Time

	mu    sync.Mutex
	ended map[string]time.Time // session -> forget after
	alive map[string]time.Time // session -> re-check after
	seen  map[string]time.Time // session -> last found live in the database
}

// staleIfError is how long a session last found live keeps being accepted
// while the database cannot be asked (a restart, a failover): ending a
// session is a write to that database, so none can have happened since
// it went away, except in the instant before. Without it every request
// would fail with 503 for the whole outage, though the sends themselves
// wait for the database (the group-commit writer holds them).
const staleIfError = 30 * time.Second

var _ ports.TokenIssuer = (*SessionCheckedTokens)(nil)

// maxCachedSessions bounds each cache; past it the cache is emptied (a
// lookup is cheap, memory is not).
const maxCachedSessions = 100_000

// NewSessionCheckedTokens wraps tokens.
func NewSessionCheckedTokens(tokens ports.TokenIssuer, sessions SessionLookup, aliveTTL time.Duration, clock ports.Clock) *SessionCheckedTokens {
	return &SessionCheckedTokens{TokenIssuer: tokens, sessions: sessions, aliveTTL: aliveTTL, now: clock.Now,
		ended: map[string]time.Time{}, alive: map[string]time.Time{}, seen: map[string]time.Time{}}
}

var errSessionEnded = errs.Unauthenticatedf("the session of this access token has ended (signed out or revoked); sign in again")

// Verify checks the token, then its session.
func (s *SessionCheckedTokens) Verify(token string) (ports.AccessClaims, error) {
	claims, err := s.TokenIssuer.Verify(token)
	if err != nil {
		return claims, err
	}
	if claims.SessionID == "" {
		return ports.AccessClaims{}, errSessionEnded
	}
	now := s.now()
	s.mu.Lock()
	if until, ok := s.ended[claims.SessionID]; ok && now.Before(until) {
		s.mu.Unlock()
		return ports.AccessClaims{}, errSessionEnded
	}
	if until, ok := s.alive[claims.SessionID]; ok && now.Before(until) {
		s.mu.Unlock()
		return claims, nil
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ended, err := s.sessions.FamilyRevoked(ctx, claims.SessionID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if at, ok := s.seen[claims.SessionID]; ok && now.Sub(at) < staleIfError {
			return claims, nil
		}
		return ports.AccessClaims{}, errs.Wrap(errs.Unavailable, err, "cannot check the session now; retry")
	}
	if ended {
		if len(s.ended) >= maxCachedSessions {
			clear(s.ended)
		}
		s.ended[claims.SessionID] = now.Add(s.TTL())
		delete(s.alive, claims.SessionID)
		delete(s.seen, claims.SessionID)
		return ports.AccessClaims{}, errSessionEnded
	}
	if len(s.seen) >= maxCachedSessions {
		clear(s.seen)
	}
	s.seen[claims.SessionID] = now
	if s.aliveTTL > 0 {
		if len(s.alive) >= maxCachedSessions {
			clear(s.alive)
		}
		s.alive[claims.SessionID] = now.Add(s.aliveTTL)
	}
	return claims, nil
}
