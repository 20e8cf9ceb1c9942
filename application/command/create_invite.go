package command

import (
	"context"

	"github.com/fechatter/fechatter/domain/identity"
	"github.com/fechatter/fechatter/ports"
)

// CreateInvite makes an invite code for the caller's workspace.
type CreateInvite struct {
	Actor          Actor
	MaxUses        *int
	ExpiresInHours *int
}

// CreateInviteHandler handles CreateInvite.
type CreateInviteHandler struct {
	users   ports.UserRepository
	invites ports.InviteRepository
	secrets ports.SecretGenerator
	clock   ports.Clock
}

// NewCreateInviteHandler builds the handler.
func NewCreateInviteHandler(users ports.UserRepository, invites ports.InviteRepository, secrets ports.SecretGenerator, clock ports.Clock) CreateInviteHandler {
	mustHave(map[string]any{"users": users, "invites": invites, "secrets": secrets, "clock": clock})
	return CreateInviteHandler{users: users, invites: invites, secrets: secrets, clock: clock}
}

// Handle creates the invite.
func (h CreateInviteHandler) Handle(ctx context.Context, cmd CreateInvite) (identity.Invite, error) {
	u, err := h.users.ByID(ctx, cmd.Actor.UserID)
	if err != nil {
		return identity.Invite{}, err
	}
	inv, err := identity.NewInvite(h.secrets.Secret(12), u, cmd.MaxUses, cmd.ExpiresInHours, h.clock.Now())
	if err != nil {
		return identity.Invite{}, err
	}
	if err := h.invites.Create(ctx, inv); err != nil {
		return identity.Invite{}, err
	}
	return inv, nil
}
