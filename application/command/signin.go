package command

import (
	"context"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/identity"
	"github.com/fechatter/fechatter/ports"
)

// SignIn starts a session for an email and password.
type SignIn struct {
	Email    string
	Password string
	ClientIP string
}

// SignInHandler handles SignIn. Attempts are limited per email and per
// client address; a success clears the email's count.
type SignInHandler struct {
	users     ports.UserRepository
	hasher    ports.PasswordHasher
	byEmail   ports.RateLimiter
	byAddress ports.RateLimiter
	sessions  SessionIssuer
	dummyHash string
}

// NewSignInHandler builds the handler.
func NewSignInHandler(users ports.UserRepository, hasher ports.PasswordHasher, byEmail, byAddress ports.RateLimiter, sessions SessionIssuer) SignInHandler {
	mustHave(map[string]any{"users": users, "hasher": hasher, "byEmail": byEmail, "byAddress": byAddress})
	dummy, _ := hasher.Hash("not-a-real-password-but-equal-work")
	return SignInHandler{users: users, hasher: hasher, byEmail: byEmail, byAddress: byAddress, sessions: sessions, dummyHash: dummy}
}

// Handle checks the credentials.
func (h SignInHandler) Handle(ctx context.Context, cmd SignIn) (AuthResult, error) {
	email, err := identity.NormalizeEmail(cmd.Email)
	if err != nil {
		return AuthResult{}, err
	}
	if cmd.Password == "" {
		return AuthResult{}, errs.Invalidf("password is required")
	}
	if ok, wait := h.byAddress.Allow(ctx, "addr:"+cmd.ClientIP); !ok {
		return AuthResult{}, errs.RateLimitedf(wait, "too many sign-in attempts from this address; retry in %s", wait.Round(time.Second))
	}
	if ok, wait := h.byEmail.Allow(ctx, "email:"+email); !ok {
		return AuthResult{}, errs.RateLimitedf(wait, "too many sign-in attempts for this email; retry in %s", wait.Round(time.Second))
	}
	u, err := h.users.ByEmail(ctx, email)
	if err != nil && !errs.Is(err, errs.NotFound) {
		return AuthResult{}, err
	}
	if err != nil {
		h.hasher.Verify(h.dummyHash, cmd.Password) // same work whether or not the email exists
		return AuthResult{}, errs.Unauthenticatedf("wrong email or password")
	}
	if !h.hasher.Verify(u.PasswordHash, cmd.Password) {
		return AuthResult{}, errs.Unauthenticatedf("wrong email or password")
	}
	h.byEmail.Reset(ctx, "email:"+email)
	return h.sessions.issue(ctx, u, "")
}
