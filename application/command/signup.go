package command

import (
	"context"
	"strings"

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
}

// SignUpHandler handles SignUp.
type SignUpHandler struct {
	tx         ports.Transactor
	workspaces ports.WorkspaceRepository
	users      ports.UserRepository
	invites    ports.InviteRepository
	hasher     ports.PasswordHasher
	sessions   SessionIssuer
}

// NewSignUpHandler builds the handler.
func NewSignUpHandler(tx ports.Transactor, workspaces ports.WorkspaceRepository, users ports.UserRepository,
	invites ports.InviteRepository, hasher ports.PasswordHasher, sessions SessionIssuer) SignUpHandler {
	mustHave(map[string]any{"tx": tx, "workspaces": workspaces, "users": users, "invites": invites, "hasher": hasher})
	return SignUpHandler{tx: tx, workspaces: workspaces, users: users, invites: invites, hasher: hasher, sessions: sessions}
}

// Handle signs the user up and starts a session.
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
	if _, err := h.users.ByEmail(ctx, email); err == nil {
		return AuthResult{}, errs.Conflictf("email %s is already registered", email)
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
