package command

import (
	"context"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// Logout ends the caller's session: the refresh token's family is revoked.
type Logout struct {
	Actor        Actor
	RefreshToken string
}

// LogoutHandler handles Logout.
type LogoutHandler struct {
	refresh ports.RefreshTokenRepository
	clock   ports.Clock
	revoked SessionRevokedNotifier
}

// NewLogoutHandler builds the handler; revoked may be nil.
func NewLogoutHandler(refresh ports.RefreshTokenRepository, clock ports.Clock, revoked SessionRevokedNotifier) LogoutHandler {
	mustHave(map[string]any{"refresh": refresh, "clock": clock})
	return LogoutHandler{refresh: refresh, clock: clock, revoked: revoked}
}

// Handle revokes the session. An unknown token or one of another user is
// not an error (logging out twice is fine) but revokes nothing.
func (h LogoutHandler) Handle(ctx context.Context, cmd Logout) error {
	if cmd.RefreshToken == "" || len(cmd.RefreshToken) > 512 {
		return errs.Invalidf("refresh_token is required")
	}
	rt, err := h.refresh.ByHash(ctx, HashRefreshToken(cmd.RefreshToken))
	if errs.Is(err, errs.NotFound) || (err == nil && rt.UserID != cmd.Actor.UserID) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := h.refresh.RevokeFamily(ctx, rt.FamilyID, h.clock.Now()); err != nil {
		return err
	}
	if h.revoked != nil {
		h.revoked.SessionRevoked(ctx, rt.UserID, rt.FamilyID)
	}
	return nil
}
