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
	tx      ports.Transactor
	refresh ports.RefreshTokenRepository
	outbox  ports.Outbox
	clock   ports.Clock
}

// NewLogoutHandler builds the handler.
func NewLogoutHandler(tx ports.Transactor, refresh ports.RefreshTokenRepository, outbox ports.Outbox, clock ports.Clock) LogoutHandler {
	mustHave(map[string]any{"tx": tx, "refresh": refresh, "outbox": outbox, "clock": clock})
	return LogoutHandler{tx: tx, refresh: refresh, outbox: outbox, clock: clock}
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
	return revokeSession(ctx, h.tx, h.refresh, h.outbox, h.clock, cmd.Actor.WorkspaceID, rt)
}
