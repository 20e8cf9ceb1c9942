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

// SignInHandler handles SignIn. Only failures count: per email and per
// client address, each failure past a free allowance makes the next attempt
// wait exponentially longer (ports.FailureLimiter), and a success clears the
// email's count, so the real user is slowed, never locked out, and a busy
// office address is never limited by its successful sign-ins.
type SignInHandler struct {
	users     ports.UserRepository
	hasher    ports.PasswordHasher
	byEmail   ports.FailureLimiter
	byAddress ports.FailureLimiter
	sessions  SessionIssuer
	dummyHash string
}

// NewSignInHandler builds the handler.
func NewSignInHandler(users ports.UserRepository, hasher ports.PasswordHasher, byEmail, byAddress ports.FailureLimiter, sessions SessionIssuer) SignInHandler {
	mustHave(map[string]any{"users": users, "hasher": hasher, "byEmail": byEmail, "byAddress": byAddress})
	dummy, _ := hasher.Hash("not-a-real-password-but-equal-work")
	return SignInHandler{users: users, hasher: hasher, byEmail: byEmail, byAddress: byAddress, sessions: sessions, dummyHash: dummy}
}

func waitError(wait time.Duration, what string) error {
	return errs.RateLimitedf(wait, "too many failed sign-ins %s; retry in %s", what, max(wait.Round(time.Second), time.Second))
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
	addrKey, emailKey := "addr:"+cmd.ClientIP, "email:"+email
	if wait, err := h.byAddress.Wait(ctx, addrKey); err != nil {
		return AuthResult{}, err
	} else if wait > 0 {
		return AuthResult{}, waitError(wait, "from this address")
	}
	if wait, err := h.byEmail.Wait(ctx, emailKey); err != nil {
		return AuthResult{}, err
	} else if wait > 0 {
		return AuthResult{}, waitError(wait, "for this email")
	}
	u, err := h.users.ByEmail(ctx, email)
	if err != nil && !errs.Is(err, errs.NotFound) {
		return AuthResult{}, err
	}
	ok := false
	if err != nil {
		h.hasher.Verify(h.dummyHash, cmd.Password) // same work whether or not the email exists
	} else {
		ok = h.hasher.Verify(u.PasswordHash, cmd.Password)
	}
	if !ok {
		if _, err := h.byAddress.Fail(ctx, addrKey); err != nil {
			return AuthResult{}, err
		}
		if _, err := h.byEmail.Fail(ctx, emailKey); err != nil {
			return AuthResult{}, err
		}
		return AuthResult{}, errs.Unauthenticatedf("wrong email or password")
	}
	if err := h.byEmail.Reset(ctx, emailKey); err != nil {
		return AuthResult{}, err
	}
	return h.sessions.issue(ctx, u, "")
}
