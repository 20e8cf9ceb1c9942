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
	outbox   ports.Outbox
}

// NewRefreshSessionHandler builds the handler.
func NewRefreshSessionHandler(tx ports.Transactor, users ports.UserRepository, refresh ports.RefreshTokenRepository, outbox ports.Outbox, sessions SessionIssuer) RefreshSessionHandler {
	mustHave(map[string]any{"tx": tx, "users": users, "refresh": refresh, "outbox": outbox})
	return RefreshSessionHandler{tx: tx, users: users, refresh: refresh, outbox: outbox, sessions: sessions}
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
	u, err := h.users.ByID(ctx, rt.UserID)
	if err != nil {
		return err
	}
	if err := revokeSession(ctx, h.tx, h.refresh, h.outbox, h.sessions.clock, u.WorkspaceID, rt); err != nil {
		return err
	}
	return errs.Unauthenticatedf("refresh token was already used; the session is revoked, sign in again")
}

// revokeSession revokes the token's family and tells the user's sockets of
// that session to close (session.revoked), in one transaction.
func revokeSession(ctx context.Context, tx ports.Transactor, refresh ports.RefreshTokenRepository, outbox ports.Outbox, clock ports.Clock, workspaceID int64, rt ports.RefreshToken) error {
	return tx.InTx(ctx, func(ctx context.Context) error {
		if err := refresh.RevokeFamily(ctx, rt.FamilyID, clock.Now()); err != nil {
			return err
		}
		ev := eventRecorder{clock: clock, ws: workspaceID}
		ev.user(ports.EventSessionRevoked, rt.UserID, SessionRevokedEvent{UserID: rt.UserID, SessionID: rt.FamilyID})
		return ev.save(ctx, outbox)
	})
}
