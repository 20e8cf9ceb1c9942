package command

import (
	"context"
	"strings"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/identity"
	"github.com/fechatter/fechatter/ports"
)

// SignUp creates a user, and a workspace when the name is new. An existing
// workspace needs one of its invite codes.
type SignUp struct {
	Email      string
	Password   string
	Fullname   string
	Workspace  string
	InviteCode string
	ClientIP   string
}

// SignUpHandler handles SignUp.
type SignUpHandler struct {
	tx         ports.Transactor
	workspaces ports.WorkspaceRepository
	users      ports.UserRepository
	invites    ports.InviteRepository
	hasher     ports.PasswordHasher
	sessions   SessionIssuer
	byAddress  ports.RateLimiter    // sign-ups per client address
	inviteFail ports.FailureLimiter // wrong invite codes per client address
}

// NewSignUpHandler builds the handler.
func NewSignUpHandler(tx ports.Transactor, workspaces ports.WorkspaceRepository, users ports.UserRepository,
	invites ports.InviteRepository, hasher ports.PasswordHasher, sessions SessionIssuer,
	byAddress ports.RateLimiter, inviteFail ports.FailureLimiter) SignUpHandler {
	mustHave(map[string]any{"tx": tx, "workspaces": workspaces, "users": users, "invites": invites, "hasher": hasher,
		"byAddress": byAddress, "inviteFail": inviteFail})
	return SignUpHandler{tx: tx, workspaces: workspaces, users: users, invites: invites, hasher: hasher, sessions: sessions,
		byAddress: byAddress, inviteFail: inviteFail}
}

// Handle signs the user up and starts a session. Everything cheap is
// checked first (fields, limits, email, workspace and invite); the slow
// password hash comes last, and the hasher bounds how many run at once.
func (h SignUpHandler) Handle(ctx context.Context, cmd SignUp) (AuthResult, error) {
	email, err := identity.NormalizeEmail(cmd.Email)
	if err != nil {
		return AuthResult{}, err
	}
	if err := identity.ValidatePassword(cmd.Password); err != nil {
		return AuthResult{}, err
	}
	fullname, err := identity.ValidateFullname(cmd.Fullname)
	if err != nil {
		return AuthResult{}, err
	}
	wsName, err := identity.ValidateWorkspaceName(cmd.Workspace)
	if err != nil {
		return AuthResult{}, err
	}
	addrKey := "invite-addr:" + cmd.ClientIP
	if ok, wait := h.byAddress.Allow(ctx, "signup-addr:"+cmd.ClientIP); !ok {
		return AuthResult{}, errs.RateLimitedf(wait, "too many sign-ups from this address; retry in %s", max(wait.Round(time.Second), time.Second))
	}
	if wait, err := h.inviteFail.Wait(ctx, addrKey); err != nil {
		return AuthResult{}, err
	} else if wait > 0 {
		return AuthResult{}, errs.RateLimitedf(wait, "too many wrong invite codes from this address; retry in %s", max(wait.Round(time.Second), time.Second))
	}
	if _, err := h.users.ByEmail(ctx, email); err == nil {
		return AuthResult{}, errs.Conflictf("email %s is already registered", email)
	} else if !errs.Is(err, errs.NotFound) {
		return AuthResult{}, err
	}
	if existing, err := h.workspaces.ByName(ctx, wsName); err == nil {
		code := strings.TrimSpace(cmd.InviteCode)
		if code == "" {
			return AuthResult{}, errs.Conflictf("workspace %q already exists; joining it needs an invite code", wsName)
		}
		if err := h.invites.Check(ctx, code, existing.ID, h.sessions.clock.Now()); err != nil {
			if !errs.Is(err, errs.NotFound) {
				return AuthResult{}, err
			}
			if _, err := h.inviteFail.Fail(ctx, addrKey); err != nil {
				return AuthResult{}, err
			}
			return AuthResult{}, errs.Conflictf("invite code is not valid for workspace %q (unknown, used up or expired)", wsName)
		}
	} else if !errs.Is(err, errs.NotFound) {
		return AuthResult{}, err
	}
	hash, err := h.hasher.Hash(cmd.Password)
	if err != nil {
		return AuthResult{}, err
	}
	now := h.sessions.clock.Now()
	var result AuthResult
	err = h.tx.InTx(ctx, func(ctx context.Context) error {
		u := identity.User{Email: email, Fullname: fullname, PasswordHash: hash, CreatedAt: now}
		ws, err := h.workspaces.ByName(ctx, wsName)
		switch {
		case errs.Is(err, errs.NotFound):
			ws = identity.Workspace{Name: wsName, CreatedAt: now}
			if err := h.workspaces.Create(ctx, &ws); err != nil {
				return err
			}
			u.WorkspaceID, u.Role = ws.ID, identity.WorkspaceOwner
			if err := h.users.Create(ctx, &u); err != nil {
				return err
			}
			if err := h.workspaces.SetOwner(ctx, ws.ID, u.ID); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			code := strings.TrimSpace(cmd.InviteCode)
			if code == "" {
				return errs.Conflictf("workspace %q already exists; joining it needs an invite code", wsName)
			}
			if err := h.invites.Redeem(ctx, code, ws.ID, now); err != nil {
				if errs.Is(err, errs.NotFound) {
					return errs.Conflictf("invite code is not valid for workspace %q (unknown, used up or expired)", wsName)
				}
				return err
			}
			u.WorkspaceID, u.Role = ws.ID, identity.WorkspaceMember
			if err := h.users.Create(ctx, &u); err != nil {
				return err
			}
		}
		result, err = h.sessions.issue(ctx, u, "")
		return err
	})
	return result, err
}
