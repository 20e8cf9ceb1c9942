package memory

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/identity"
	"github.com/fechatter/fechatter/ports"
)

var (
	_ ports.WorkspaceRepository    = (*WorkspaceRepo)(nil)
	_ ports.UserRepository         = (*UserRepo)(nil)
	_ ports.InviteRepository       = (*InviteRepo)(nil)
	_ ports.RefreshTokenRepository = (*RefreshTokenRepo)(nil)
)

// WorkspaceRepo is the ports.WorkspaceRepository of a Store.
type WorkspaceRepo struct{ s *Store }

func (r *WorkspaceRepo) Create(ctx context.Context, ws *identity.Workspace) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	if _, taken := s.wsByName[ws.Name]; taken {
		return errs.Conflictf("workspace %q already exists", ws.Name)
	}
	s.ids.workspace++
	row := *ws
	row.ID = s.ids.workspace
	s.workspaces[row.ID] = &row
	s.wsByName[row.Name] = row.ID
	t.onRollback(func() {
		delete(s.workspaces, row.ID)
		delete(s.wsByName, row.Name)
	})
	ws.ID = row.ID
	return nil
}

func (r *WorkspaceRepo) SetOwner(ctx context.Context, workspaceID, ownerID int64) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	ws, ok := s.workspaces[workspaceID]
	if !ok {
		return errs.NotFoundf("workspace %d not found", workspaceID)
	}
	if _, ok := s.users[ownerID]; !ok {
		return errs.NotFoundf("user %d not found", ownerID)
	}
	old := ws.OwnerID
	ws.OwnerID = ownerID
	t.onRollback(func() { ws.OwnerID = old })
	return nil
}

func (r *WorkspaceRepo) ByID(ctx context.Context, id int64) (identity.Workspace, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return identity.Workspace{}, err
	}
	defer s.leave(t)
	ws, ok := s.workspaces[id]
	if !ok {
		return identity.Workspace{}, errs.NotFoundf("workspace %d not found", id)
	}
	return *ws, nil
}

func (r *WorkspaceRepo) ByName(ctx context.Context, name string) (identity.Workspace, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return identity.Workspace{}, err
	}
	defer s.leave(t)
	id, ok := s.wsByName[name]
	if !ok {
		return identity.Workspace{}, errs.NotFoundf("workspace %q not found", name)
	}
	return *s.workspaces[id], nil
}

// UserRepo is the ports.UserRepository of a Store. Emails compare
// case-insensitively.
type UserRepo struct{ s *Store }

func (r *UserRepo) Create(ctx context.Context, u *identity.User) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	email := strings.ToLower(u.Email)
	if _, taken := s.userByEmail[email]; taken {
		return errs.Conflictf("email %q is already registered", u.Email)
	}
	if _, ok := s.workspaces[u.WorkspaceID]; !ok {
		return errs.NotFoundf("workspace %d not found", u.WorkspaceID)
	}
	s.ids.user++
	row := *u
	row.ID = s.ids.user
	s.users[row.ID] = &row
	s.userByEmail[email] = row.ID
	s.wsUsers[row.WorkspaceID] = append(s.wsUsers[row.WorkspaceID], row.ID)
	t.onRollback(func() {
		delete(s.users, row.ID)
		delete(s.userByEmail, email)
		ids := s.wsUsers[row.WorkspaceID]
		s.wsUsers[row.WorkspaceID] = ids[:len(ids)-1] // undone newest first: row.ID is last
	})
	u.ID = row.ID
	return nil
}

func (r *UserRepo) ByID(ctx context.Context, id int64) (identity.User, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return identity.User{}, err
	}
	defer s.leave(t)
	u, ok := s.users[id]
	if !ok {
		return identity.User{}, errs.NotFoundf("user %d not found", id)
	}
	return *u, nil
}

func (r *UserRepo) ByEmail(ctx context.Context, email string) (identity.User, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return identity.User{}, err
	}
	defer s.leave(t)
	id, ok := s.userByEmail[strings.ToLower(email)]
	if !ok {
		return identity.User{}, errs.NotFoundf("no user with email %q", email)
	}
	return *s.users[id], nil
}

// Search scans the workspace's users; a limit of 0 or less means no limit.
func (r *UserRepo) Search(ctx context.Context, workspaceID int64, q string, limit int) ([]identity.User, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	q = strings.ToLower(q)
	var out []identity.User
	for _, id := range s.wsUsers[workspaceID] {
		if limit > 0 && len(out) >= limit {
			break
		}
		u := s.users[id]
		if q == "" || strings.Contains(strings.ToLower(u.Fullname), q) || strings.Contains(strings.ToLower(u.Email), q) {
			out = append(out, *u)
		}
	}
	return out, nil
}

// InWorkspace returns the matching ids in the order asked, without repeats.
func (r *UserRepo) InWorkspace(ctx context.Context, workspaceID int64, ids []int64) ([]int64, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	out := make([]int64, 0, len(ids))
	seen := make(map[int64]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; dup {
			continue
		}
		seen[id] = struct{}{}
		if u, ok := s.users[id]; ok && u.WorkspaceID == workspaceID {
			out = append(out, id)
		}
	}
	return out, nil
}

// InviteRepo is the ports.InviteRepository of a Store.
type InviteRepo struct{ s *Store }

func (r *InviteRepo) Create(ctx context.Context, inv identity.Invite) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	if _, taken := s.invites[inv.Code]; taken {
		return errs.Conflictf("invite code already exists")
	}
	if _, ok := s.workspaces[inv.WorkspaceID]; !ok {
		return errs.NotFoundf("workspace %d not found", inv.WorkspaceID)
	}
	s.invites[inv.Code] = &inv
	t.onRollback(func() { delete(s.invites, inv.Code) })
	return nil
}

func (r *InviteRepo) Redeem(ctx context.Context, code string, workspaceID int64, now time.Time) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	inv, ok := s.invites[code]
	if !ok || inv.WorkspaceID != workspaceID || !inv.Usable(now) {
		return errs.NotFoundf("invite code is unknown, used up or expired")
	}
	inv.Uses++
	t.onRollback(func() { inv.Uses-- })
	return nil
}

// RefreshTokenRepo is the ports.RefreshTokenRepository of a Store.
type RefreshTokenRepo struct{ s *Store }

func (r *RefreshTokenRepo) Create(ctx context.Context, tok *ports.RefreshToken) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	if _, taken := s.tokenByHash[tok.Hash]; taken {
		return errs.Conflictf("refresh token already exists")
	}
	if _, ok := s.users[tok.UserID]; !ok {
		return errs.NotFoundf("user %d not found", tok.UserID)
	}
	s.ids.token++
	row := *tok
	row.ID = s.ids.token
	s.tokens[row.ID] = &row
	s.tokenByHash[row.Hash] = row.ID
	s.families[row.FamilyID] = append(s.families[row.FamilyID], row.ID)
	t.onRollback(func() {
		delete(s.tokens, row.ID)
		delete(s.tokenByHash, row.Hash)
		if f := s.families[row.FamilyID]; len(f) > 1 {
			s.families[row.FamilyID] = f[:len(f)-1]
		} else {
			delete(s.families, row.FamilyID)
		}
	})
	tok.ID = row.ID
	return nil
}

func (r *RefreshTokenRepo) ByHash(ctx context.Context, hash string) (ports.RefreshToken, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return ports.RefreshToken{}, err
	}
	defer s.leave(t)
	id, ok := s.tokenByHash[hash]
	if !ok {
		return ports.RefreshToken{}, errs.NotFoundf("refresh token not found")
	}
	return *s.tokens[id], nil
}

func (r *RefreshTokenRepo) MarkUsed(ctx context.Context, id int64, at time.Time) (bool, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return false, err
	}
	defer s.leave(t)
	tok, ok := s.tokens[id]
	if !ok || !tok.UsedAt.IsZero() || !tok.RevokedAt.IsZero() {
		return false, nil
	}
	tok.UsedAt = at
	t.onRollback(func() { tok.UsedAt = time.Time{} })
	return true, nil
}

// RevokeFamily sets revoked_at on the family's tokens not yet revoked.
func (r *RefreshTokenRepo) RevokeFamily(ctx context.Context, familyID string, at time.Time) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	for _, id := range s.families[familyID] {
		tok := s.tokens[id]
		if tok.RevokedAt.IsZero() {
			tok.RevokedAt = at
			t.onRollback(func() { tok.RevokedAt = time.Time{} })
		}
	}
	return nil
}

// RevokeUserFamilies revokes every family of the user but except.
func (r *RefreshTokenRepo) RevokeUserFamilies(ctx context.Context, userID int64, except string, at time.Time) ([]string, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	seen := map[string]bool{}
	var revoked []string
	for _, tok := range s.tokens {
		if tok.UserID != userID || tok.FamilyID == except || !tok.RevokedAt.IsZero() {
			continue
		}
		tok.RevokedAt = at
		t.onRollback(func() { tok.RevokedAt = time.Time{} })
		if !seen[tok.FamilyID] {
			seen[tok.FamilyID] = true
			revoked = append(revoked, tok.FamilyID)
		}
	}
	sort.Strings(revoked)
	return revoked, nil
}

// FamilyRevoked reports whether the family has a revoked token or none.
func (r *RefreshTokenRepo) FamilyRevoked(ctx context.Context, familyID string) (bool, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return false, err
	}
	defer s.leave(t)
	ids := s.families[familyID]
	if len(ids) == 0 {
		return true, nil
	}
	for _, id := range ids {
		if !s.tokens[id].RevokedAt.IsZero() {
			return true, nil
		}
	}
	return false, nil
}

// SetPasswordHash replaces the user's password hash.
func (r *UserRepo) SetPasswordHash(ctx context.Context, userID int64, hash string) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	u, ok := s.users[userID]
	if !ok {
		return errs.NotFoundf("user %d not found", userID)
	}
	old := u.PasswordHash
	u.PasswordHash = hash
	t.onRollback(func() { u.PasswordHash = old })
	return nil
}

// Check is Redeem without the use.
func (r *InviteRepo) Check(ctx context.Context, code string, workspaceID int64, now time.Time) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	inv, ok := s.invites[code]
	if !ok || inv.WorkspaceID != workspaceID || !inv.Usable(now) {
		return errs.NotFoundf("invite code is unknown, used up or expired")
	}
	return nil
}
