package command

import (
	"context"
	"strconv"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/identity"
	"github.com/fechatter/fechatter/ports"
)

// ChangePassword replaces the caller's password after checking the old one,
// and ends every other session of the caller (their refresh and access
// tokens stop working, their sockets close).
type ChangePassword struct {
	Actor       Actor
	OldPassword string
	NewPassword string
}

// LogoutAll ends every session of the caller, this one included.
type LogoutAll struct {
	Actor Actor
}

// SessionsHandler handles ChangePassword and LogoutAll.
type SessionsHandler struct {
	tx      ports.Transactor
	users   ports.UserRepository
	refresh ports.RefreshTokenRepository
	hasher  ports.PasswordHasher
	outbox  ports.Outbox
	clock   ports.Clock
	wrong   ports.FailureLimiter // wrong old passwords, per user
}

// NewSessionsHandler builds the handler.
func NewSessionsHandler(tx ports.Transactor, users ports.UserRepository, refresh ports.RefreshTokenRepository,
	hasher ports.PasswordHasher, outbox ports.Outbox, clock ports.Clock, wrong ports.FailureLimiter) SessionsHandler {
	mustHave(map[string]any{"tx": tx, "users": users, "refresh": refresh, "hasher": hasher, "outbox": outbox, "clock": clock, "wrong": wrong})
	return SessionsHandler{tx: tx, users: users, refresh: refresh, hasher: hasher, outbox: outbox, clock: clock, wrong: wrong}
}

// ChangePassword checks the old password (wrong ones count as sign-in
// failures of the user) and hashes the new one before the transaction that
// stores it and revokes the other sessions.
func (h SessionsHandler) ChangePassword(ctx context.Context, cmd ChangePassword) error {
	if cmd.OldPassword == "" {
		return errs.Invalidf("old_password is required")
	}
	if err := identity.ValidatePassword(cmd.NewPassword); err != nil {
		return errs.Invalidf("new_password: %v", err)
	}
	key := "password-user:" + strconv.FormatInt(cmd.Actor.UserID, 10)
	if wait, err := h.wrong.Wait(ctx, key); err != nil {
		return err
	} else if wait > 0 {
		return waitError(wait, "for this account")
	}
	u, err := h.users.ByID(ctx, cmd.Actor.UserID)
	if err != nil {
		return err
	}
	if !h.hasher.Verify(u.PasswordHash, cmd.OldPassword) {
		if _, err := h.wrong.Fail(ctx, key); err != nil {
			return err
		}
		return errs.Unauthenticatedf("old_password is wrong")
	}
	if err := h.wrong.Reset(ctx, key); err != nil {
		return err
	}
	hash, err := h.hasher.Hash(cmd.NewPassword)
	if err != nil {
		return err
	}
	return h.tx.InTx(ctx, func(ctx context.Context) error {
		if err := h.users.SetPasswordHash(ctx, u.ID, hash); err != nil {
			return err
		}
		return h.revokeAll(ctx, cmd.Actor, cmd.Actor.SessionID)
	})
}

// LogoutAll revokes every session of the caller.
func (h SessionsHandler) LogoutAll(ctx context.Context, cmd LogoutAll) error {
	return h.tx.InTx(ctx, func(ctx context.Context) error { return h.revokeAll(ctx, cmd.Actor, "") })
}

// revokeAll revokes the actor's sessions but except and records one
// session.revoked per session, so every instance closes their sockets.
func (h SessionsHandler) revokeAll(ctx context.Context, a Actor, except string) error {
	families, err := h.refresh.RevokeUserFamilies(ctx, a.UserID, except, h.clock.Now())
	if err != nil {
		return err
	}
	if len(families) == 0 {
		return nil
	}
	ev := eventRecorder{clock: h.clock, ws: a.WorkspaceID}
	for _, f := range families {
		ev.user(ports.EventSessionRevoked, a.UserID, SessionRevokedEvent{UserID: a.UserID, SessionID: f})
	}
	return ev.save(ctx, h.outbox)
}
