package command

import (
	"context"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// RefreshSession trades a refresh token for a new pair. Each token works
// once; presenting a used one means it leaked, so its whole family dies.
type RefreshSession struct {
	RefreshToken string
}

// RefreshSessionHandler handles RefreshSession.
type RefreshSessionHandler struct {
	tx       ports.Transactor
	users    ports.UserRepository
	refresh  ports.RefreshTokenRepository
	sessions SessionIssuer
	revoked  SessionRevokedNotifier
}

// SessionRevokedNotifier hears of revoked sessions (the WebSocket gateway
// closes their sockets). May be nil.
type SessionRevokedNotifier interface {
	SessionRevoked(ctx context.Context, userID int64, sessionID string)
}

// NewRefreshSessionHandler builds the handler; revoked may be nil.
func NewRefreshSessionHandler(tx ports.Transactor, users ports.UserRepository, refresh ports.RefreshTokenRepository, sessions SessionIssuer, revoked SessionRevokedNotifier) RefreshSessionHandler {
	mustHave(map[string]any{"tx": tx, "users": users, "refresh": refresh})
	return RefreshSessionHandler{tx: tx, users: users, refresh: refresh, sessions: sessions, revoked: revoked}
}

var errBadRefresh = errs.Unauthenticatedf("refresh token is invalid, expired or revoked")

// Handle rotates the token.
func (h RefreshSessionHandler) Handle(ctx context.Context, cmd RefreshSession) (AuthResult, error) {
	if cmd.RefreshToken == "" || len(cmd.RefreshToken) > 512 {
		return AuthResult{}, errs.Invalidf("refresh_token is required")
	}
	now := h.sessions.clock.Now()
	rt, err := h.refresh.ByHash(ctx, HashRefreshToken(cmd.RefreshToken))
	if errs.Is(err, errs.NotFound) {
		return AuthResult{}, errBadRefresh
	}
	if err != nil {
		return AuthResult{}, err
	}
	if !rt.RevokedAt.IsZero() || !now.Before(rt.ExpiresAt) {
		return AuthResult{}, errBadRefresh
	}
	if !rt.UsedAt.IsZero() {
		return AuthResult{}, h.revokeFamily(ctx, rt)
	}
	var result AuthResult
	var reused bool
	err = h.tx.InTx(ctx, func(ctx context.Context) error {
		won, err := h.refresh.MarkUsed(ctx, rt.ID, now)
		if err != nil {
			return err
		}
		if !won {
			reused = true
			return nil
		}
		u, err := h.users.ByID(ctx, rt.UserID)
		if err != nil {
			return err
		}
		result, err = h.sessions.issue(ctx, u, rt.FamilyID)
		return err
	})
	if err != nil {
		return AuthResult{}, err
	}
	if reused {
		return AuthResult{}, h.revokeFamily(ctx, rt)
	}
	return result, nil
}

func (h RefreshSessionHandler) revokeFamily(ctx context.Context, rt ports.RefreshToken) error {
	if err := h.refresh.RevokeFamily(ctx, rt.FamilyID, h.sessions.clock.Now()); err != nil {
		return err
	}
	if h.revoked != nil {
		h.revoked.SessionRevoked(ctx, rt.UserID, rt.FamilyID)
	}
	return errs.Unauthenticatedf("refresh token was already used; the session is revoked, sign in again")
}
