package ports

import (
	"context"
	"time"

	"github.com/fechatter/fechatter/domain/identity"
)

// WorkspaceRepository stores workspaces.
type WorkspaceRepository interface {
	// Create stores ws and sets its ID. A taken name is errs.Conflict.
	Create(ctx context.Context, ws *identity.Workspace) error
	// SetOwner records the workspace's owner once the owner's user exists.
	SetOwner(ctx context.Context, workspaceID, ownerID int64) error
	ByID(ctx context.Context, id int64) (identity.Workspace, error)
	// ByName finds a workspace by its exact name; errs.NotFound if none.
	ByName(ctx context.Context, name string) (identity.Workspace, error)
}

// UserRepository stores users.
type UserRepository interface {
	// Create stores u and sets its ID. A taken email is errs.Conflict.
	Create(ctx context.Context, u *identity.User) error
	ByID(ctx context.Context, id int64) (identity.User, error)
	// ByEmail finds a user by normalized email; errs.NotFound if none.
	ByEmail(ctx context.Context, email string) (identity.User, error)
	// Search lists users of a workspace whose name or email contains q
	// (case-insensitive; "" matches all), ordered by id, at most limit.
	Search(ctx context.Context, workspaceID int64, q string, limit int) ([]identity.User, error)
	// SetPasswordHash replaces the user's password hash.
	SetPasswordHash(ctx context.Context, userID int64, hash string) error
	// InWorkspace returns which of ids are users of the workspace.
	InWorkspace(ctx context.Context, workspaceID int64, ids []int64) ([]int64, error)
}

// InviteRepository stores invite codes.
type InviteRepository interface {
	Create(ctx context.Context, inv identity.Invite) error
	// Redeem uses one admission of the invite with code for workspaceID if it
	// is still usable at now; errs.NotFound otherwise (unknown, used up,
	// expired or of another workspace).
	Redeem(ctx context.Context, code string, workspaceID int64, now time.Time) error
	// Check is Redeem without using an admission: errs.NotFound unless the
	// invite is usable at now.
	Check(ctx context.Context, code string, workspaceID int64, now time.Time) error
}

// RefreshToken is the stored form of a refresh token: only its hash is kept.
type RefreshToken struct {
	ID        int64
	UserID    int64
	FamilyID  string
	Hash      string
	ExpiresAt time.Time
	CreatedAt time.Time
	UsedAt    time.Time // zero while the token is current
	RevokedAt time.Time // set on logout or when its family is revoked
}

// RefreshTokenRepository stores refresh tokens and their families.
type RefreshTokenRepository interface {
	Create(ctx context.Context, t *RefreshToken) error
	// ByHash finds a token by its hash; errs.NotFound if none.
	ByHash(ctx context.Context, hash string) (RefreshToken, error)
	// MarkUsed sets used_at on the token if it is still unused and not
	// revoked, and reports whether it did. Concurrent callers: one wins.
	MarkUsed(ctx context.Context, id int64, at time.Time) (bool, error)
	// RevokeFamily revokes every token of the family.
	RevokeFamily(ctx context.Context, familyID string, at time.Time) error
	// RevokeUserFamilies revokes every family (session) of the user except
	// except ("" for none) and returns the ids of the families it revoked.
	RevokeUserFamilies(ctx context.Context, userID int64, except string, at time.Time) ([]string, error)
	// FamilyRevoked reports whether the session has ended: a token of the
	// family is revoked, or the family is unknown.
	FamilyRevoked(ctx context.Context, familyID string) (bool, error)
}
