package query

import (
	"context"
	"strings"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// Viewer is the authenticated caller of a query.
type Viewer struct {
	UserID      int64
	WorkspaceID int64
}

// Me answers GET /users/me.
type Me struct {
	users   ports.UserRepository
	avatars Avatars
}

// NewMe builds the handler.
func NewMe(users ports.UserRepository) Me { mustHave(users); return Me{users: users} }

// WithAvatars shows the caller's avatar link.
func (h Me) WithAvatars(a Avatars) Me { h.avatars = a; return h }

// Handle returns the caller.
func (h Me) Handle(ctx context.Context, v Viewer) (User, error) {
	u, err := h.users.ByID(ctx, v.UserID)
	if err != nil {
		return User{}, err
	}
	out := []User{UserOf(u)}
	if err := h.avatars.Fill(ctx, out); err != nil {
		return User{}, err
	}
	return out[0], nil
}

// Directory answers GET /users: the workspace's people.
type Directory struct {
	users   ports.UserRepository
	avatars Avatars
}

// WithAvatars shows the users' avatar links.
func (h Directory) WithAvatars(a Avatars) Directory { h.avatars = a; return h }

// NewDirectory builds the handler.
func NewDirectory(users ports.UserRepository) Directory {
	mustHave(users)
	return Directory{users: users}
}

// Directory limits.
const (
	DefaultUserLimit = 50
	MaxUserLimit     = 200
)

// Handle lists users whose name or email contains q.
func (h Directory) Handle(ctx context.Context, v Viewer, q string, limit int) ([]User, error) {
	q = strings.TrimSpace(q)
	if len(q) > 256 {
		return nil, errs.Invalidf("q must be at most 256 characters")
	}
	if limit == 0 {
		limit = DefaultUserLimit
	}
	if limit < 1 || limit > MaxUserLimit {
		return nil, errs.Invalidf("limit must be 1..%d", MaxUserLimit)
	}
	us, err := h.users.Search(ctx, v.WorkspaceID, q, limit)
	if err != nil {
		return nil, err
	}
	out := make([]User, len(us))
	for i, u := range us {
		out[i] = UserOf(u)
	}
	if err := h.avatars.Fill(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// GetWorkspace answers GET /workspace.
type GetWorkspace struct{ workspaces ports.WorkspaceRepository }

// NewGetWorkspace builds the handler.
func NewGetWorkspace(ws ports.WorkspaceRepository) GetWorkspace {
	mustHave(ws)
	return GetWorkspace{workspaces: ws}
}

// Handle returns the caller's workspace.
func (h GetWorkspace) Handle(ctx context.Context, v Viewer) (Workspace, error) {
	w, err := h.workspaces.ByID(ctx, v.WorkspaceID)
	if err != nil {
		return Workspace{}, err
	}
	return WorkspaceOf(w), nil
}

func mustHave(deps ...any) {
	for _, d := range deps {
		if d == nil {
			panic("query: nil dependency")
		}
	}
}
