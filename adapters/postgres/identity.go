package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/identity"
	"github.com/fechatter/fechatter/ports"
)

var (
	_ ports.WorkspaceRepository    = (*WorkspaceRepository)(nil)
	_ ports.UserRepository         = (*UserRepository)(nil)
	_ ports.InviteRepository       = (*InviteRepository)(nil)
	_ ports.RefreshTokenRepository = (*RefreshTokenRepository)(nil)
)

// Unique inserts use ON CONFLICT DO NOTHING and report a conflict when no
// row came back: unlike a unique violation, that leaves the caller's
// transaction usable (to look up the winner, say).

// WorkspaceRepository stores workspaces in the workspaces table.
type WorkspaceRepository struct{ db *bun.DB }

// NewWorkspaceRepository returns a WorkspaceRepository on db.
func NewWorkspaceRepository(db *bun.DB) *WorkspaceRepository {
	mustDB(db, "NewWorkspaceRepository")
	return &WorkspaceRepository{db: db}
}

func (r *WorkspaceRepository) Create(ctx context.Context, ws *identity.Workspace) error {
	row := workspaceRow{Name: ws.Name, OwnerID: ws.OwnerID, CreatedAt: ws.CreatedAt}
	res, err := conn(ctx, r.db).NewInsert().Model(&row).
		On("CONFLICT (name) DO NOTHING").Returning("id").Exec(ctx)
	if err != nil {
		return dbError(err, "create workspace")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.Conflictf("workspace %q already exists", ws.Name)
	}
	ws.ID = row.ID
	return nil
}

func (r *WorkspaceRepository) SetOwner(ctx context.Context, workspaceID, ownerID int64) error {
	res, err := conn(ctx, r.db).NewUpdate().Model((*workspaceRow)(nil)).
		Set("owner_id = ?", ownerID).Where("id = ?", workspaceID).Exec(ctx)
	if err != nil {
		return dbError(err, "set workspace owner")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.NotFoundf("workspace %d not found", workspaceID)
	}
	return nil
}

func (r *WorkspaceRepository) ByID(ctx context.Context, id int64) (identity.Workspace, error) {
	var row workspaceRow
	err := conn(ctx, r.db).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
	if err != nil {
		return identity.Workspace{}, notFound(err, "workspace %d not found", id)
	}
	return row.domain(), nil
}

func (r *WorkspaceRepository) ByName(ctx context.Context, name string) (identity.Workspace, error) {
	var row workspaceRow
	err := conn(ctx, r.db).NewSelect().Model(&row).Where("name = ?", name).Scan(ctx)
	if err != nil {
		return identity.Workspace{}, notFound(err, "workspace %q not found", name)
	}
	return row.domain(), nil
}

func (w workspaceRow) domain() identity.Workspace {
	return identity.Workspace{ID: w.ID, Name: w.Name, OwnerID: w.OwnerID, CreatedAt: utc(w.CreatedAt)}
}

// UserRepository stores users in the users table.
type UserRepository struct{ db *bun.DB }

// NewUserRepository returns a UserRepository on db.
func NewUserRepository(db *bun.DB) *UserRepository {
	mustDB(db, "NewUserRepository")
	return &UserRepository{db: db}
}

func (r *UserRepository) Create(ctx context.Context, u *identity.User) error {
	role := u.Role
	if role == "" {
		role = identity.WorkspaceMember
	}
	row := userRow{WorkspaceID: u.WorkspaceID, Email: u.Email, Fullname: u.Fullname,
		PasswordHash: u.PasswordHash, Role: string(role), CreatedAt: u.CreatedAt}
	res, err := conn(ctx, r.db).NewInsert().Model(&row).
		On("CONFLICT (email) DO NOTHING").Returning("id").Exec(ctx)
	if err != nil {
		return dbError(err, "create user")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.Conflictf("email %s is already registered", u.Email)
	}
	u.ID, u.Role = row.ID, role
	return nil
}

func (r *UserRepository) ByID(ctx context.Context, id int64) (identity.User, error) {
	var row userRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return identity.User{}, notFound(err, "user %d not found", id)
	}
	return row.domain(), nil
}

func (r *UserRepository) ByEmail(ctx context.Context, email string) (identity.User, error) {
	var row userRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("email = ?", email).Scan(ctx); err != nil {
		return identity.User{}, notFound(err, "user %s not found", email)
	}
	return row.domain(), nil
}

func (r *UserRepository) Search(ctx context.Context, workspaceID int64, q string, limit int) ([]identity.User, error) {
	if limit <= 0 {
		return []identity.User{}, nil
	}
	var rows []userRow
	sel := conn(ctx, r.db).NewSelect().Model(&rows).Where("workspace_id = ?", workspaceID)
	if q = strings.TrimSpace(q); q != "" {
		pattern := "%" + escapeLike(q) + "%"
		sel = sel.WhereGroup(" AND ", func(s *bun.SelectQuery) *bun.SelectQuery {
			return s.Where("fullname ILIKE ?", pattern).WhereOr("email ILIKE ?", pattern)
		})
	}
	if err := sel.OrderExpr("id").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, dbError(err, "search users")
	}
	out := make([]identity.User, len(rows))
	for i, row := range rows {
		out[i] = row.domain()
	}
	return out, nil
}

func (r *UserRepository) InWorkspace(ctx context.Context, workspaceID int64, ids []int64) ([]int64, error) {
	out := []int64{}
	if len(ids) == 0 {
		return out, nil
	}
	err := conn(ctx, r.db).NewSelect().Model((*userRow)(nil)).Column("id").
		Where("workspace_id = ?", workspaceID).Where("id IN (?)", bun.List(ids)).
		OrderExpr("id").Scan(ctx, &out)
	if err != nil {
		return nil, dbError(err, "look up workspace users")
	}
	return out, nil
}

func (u userRow) domain() identity.User {
	return identity.User{ID: u.ID, WorkspaceID: u.WorkspaceID, Email: u.Email, Fullname: u.Fullname,
		PasswordHash: u.PasswordHash, Role: identity.WorkspaceRole(u.Role), CreatedAt: utc(u.CreatedAt)}
}

// escapeLike makes s match itself literally in a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// InviteRepository stores invite codes in the invites table.
type InviteRepository struct{ db *bun.DB }

// NewInviteRepository returns an InviteRepository on db.
func NewInviteRepository(db *bun.DB) *InviteRepository {
	mustDB(db, "NewInviteRepository")
	return &InviteRepository{db: db}
}

func (r *InviteRepository) Create(ctx context.Context, inv identity.Invite) error {
	row := inviteRow{Code: inv.Code, WorkspaceID: inv.WorkspaceID, CreatedBy: inv.CreatedBy,
		MaxUses: inv.MaxUses, Uses: inv.Uses, ExpiresAt: inv.ExpiresAt, CreatedAt: inv.CreatedAt}
	res, err := conn(ctx, r.db).NewInsert().Model(&row).On("CONFLICT (code) DO NOTHING").Exec(ctx)
	if err != nil {
		return dbError(err, "create invite")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.Conflictf("invite code already exists")
	}
	return nil
}

// Redeem is one conditional UPDATE, so concurrent redeemers never admit
// more than max_uses people.
func (r *InviteRepository) Redeem(ctx context.Context, code string, workspaceID int64, now time.Time) error {
	res, err := conn(ctx, r.db).NewUpdate().Model((*inviteRow)(nil)).
		Set("uses = uses + 1").
		Where("code = ?", code).Where("workspace_id = ?", workspaceID).
		Where("uses < max_uses").Where("expires_at > ?", now).
		Exec(ctx)
	if err != nil {
		return dbError(err, "redeem invite")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.NotFoundf("invite code is unknown, used up or expired")
	}
	return nil
}

// RefreshTokenRepository stores refresh tokens in the refresh_tokens table.
type RefreshTokenRepository struct {
	db      *bun.DB
	revoked *loader[string, bool] // FamilyRevoked outside a transaction
}

// NewRefreshTokenRepository returns a RefreshTokenRepository on db.
func NewRefreshTokenRepository(db *bun.DB) *RefreshTokenRepository {
	mustDB(db, "NewRefreshTokenRepository")
	r := &RefreshTokenRepository{db: db}
	r.revoked = newLoader("check session", lookupBatch, lookupTimeout, func(ctx context.Context, ids []string) (map[string]bool, error) {
		return r.familiesRevokedOn(ctx, r.db, ids)
	})
	return r
}

// lookupBatch bounds the keys of one batched lookup (a loader's query).
const lookupBatch = 500

// lookupTimeout bounds one batched lookup.
const lookupTimeout = 5 * time.Second

func (r *RefreshTokenRepository) Create(ctx context.Context, t *ports.RefreshToken) error {
	row := refreshTokenRow{UserID: t.UserID, FamilyID: t.FamilyID, Hash: t.Hash, ExpiresAt: t.ExpiresAt,
		CreatedAt: t.CreatedAt, UsedAt: t.UsedAt, RevokedAt: t.RevokedAt}
	res, err := conn(ctx, r.db).NewInsert().Model(&row).
		On("CONFLICT (hash) DO NOTHING").Returning("id").Exec(ctx)
	if err != nil {
		return dbError(err, "create refresh token")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.Conflictf("refresh token already exists")
	}
	t.ID = row.ID
	return nil
}

func (r *RefreshTokenRepository) ByHash(ctx context.Context, hash string) (ports.RefreshToken, error) {
	var row refreshTokenRow
	if err := conn(ctx, r.db).NewSelect().Model(&row).Where("hash = ?", hash).Scan(ctx); err != nil {
		return ports.RefreshToken{}, notFound(err, "refresh token not found")
	}
	return ports.RefreshToken{ID: row.ID, UserID: row.UserID, FamilyID: row.FamilyID, Hash: row.Hash,
		ExpiresAt: utc(row.ExpiresAt), CreatedAt: utc(row.CreatedAt), UsedAt: utc(row.UsedAt),
		RevokedAt: utc(row.RevokedAt)}, nil
}

// MarkUsed is a conditional UPDATE: of concurrent callers exactly one sees
// the row still unused and wins.
func (r *RefreshTokenRepository) MarkUsed(ctx context.Context, id int64, at time.Time) (bool, error) {
	res, err := conn(ctx, r.db).NewUpdate().Model((*refreshTokenRow)(nil)).
		Set("used_at = ?", at).
		Where("id = ?", id).Where("used_at IS NULL").Where("revoked_at IS NULL").
		Exec(ctx)
	if err != nil {
		return false, dbError(err, "mark refresh token used")
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (r *RefreshTokenRepository) RevokeFamily(ctx context.Context, familyID string, at time.Time) error {
	_, err := conn(ctx, r.db).NewUpdate().Model((*refreshTokenRow)(nil)).
		Set("revoked_at = ?", at).
		Where("family_id = ?", familyID).Where("revoked_at IS NULL").
		Exec(ctx)
	return dbError(err, "revoke refresh token family")
}

// notFound maps no rows to errs.NotFound with the given message, and any
// other error through dbError.
func notFound(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if isNoRows(err) {
		return errs.New(errs.NotFound, format, args...)
	}
	return dbError(err, "query")
}

func mustDB(db *bun.DB, who string) {
	if db == nil {
		panic("postgres: " + who + ": nil db")
	}
}

// SetPasswordHash replaces the user's password hash.
func (r *UserRepository) SetPasswordHash(ctx context.Context, userID int64, hash string) error {
	res, err := conn(ctx, r.db).NewUpdate().Model((*userRow)(nil)).
		Set("password_hash = ?", hash).Where("id = ?", userID).Exec(ctx)
	if err != nil {
		return dbError(err, "set password hash")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.NotFoundf("user %d not found", userID)
	}
	return nil
}

// RevokeUserFamilies revokes the user's other sessions in one UPDATE.
func (r *RefreshTokenRepository) RevokeUserFamilies(ctx context.Context, userID int64, except string, at time.Time) ([]string, error) {
	var families []string
	err := conn(ctx, r.db).NewRaw(`WITH revoked AS (
		UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND family_id <> ? AND revoked_at IS NULL
		RETURNING family_id)
		SELECT DISTINCT family_id FROM revoked ORDER BY family_id`, at, userID, except).Scan(ctx, &families)
	if err != nil && !isNoRows(err) {
		return nil, dbError(err, "revoke the user's sessions")
	}
	return families, nil
}

// FamilyRevoked is a lookup on refresh_tokens_family_id_idx. Every access
// token is checked (WebSocket connects, REST requests past the cache):
// outside a transaction, the concurrent checks go in one query.
func (r *RefreshTokenRepository) FamilyRevoked(ctx context.Context, familyID string) (bool, error) {
	if !inTxNow(ctx, r.db) {
		return r.revoked.Load(ctx, familyID)
	}
	ended, err := r.familiesRevokedOn(ctx, conn(ctx, r.db), []string{familyID})
	return ended[familyID], err
}

// familiesRevokedOn answers FamilyRevoked for many families in one query.
func (r *RefreshTokenRepository) familiesRevokedOn(ctx context.Context, db bun.IDB, familyIDs []string) (map[string]bool, error) {
	var rows []struct {
		FamilyID string `bun:"family_id"`
		Ended    bool   `bun:"ended"`
	}
	err := db.NewRaw(`SELECT f.family_id, count(t.id) = 0 OR bool_or(t.revoked_at IS NOT NULL) AS ended
		FROM unnest(?::text[]) AS f(family_id)
		LEFT JOIN refresh_tokens t ON t.family_id = f.family_id
		GROUP BY f.family_id`, pgdialect.Array(familyIDs)).Scan(ctx, &rows)
	if err != nil {
		return nil, dbError(err, "check session")
	}
	out := make(map[string]bool, len(familyIDs))
	for _, id := range familyIDs {
		out[id] = true // no answer is no session
	}
	for _, row := range rows {
		out[row.FamilyID] = row.Ended
	}
	return out, nil
}

// Check is Redeem's WHERE clause as a read.
func (r *InviteRepository) Check(ctx context.Context, code string, workspaceID int64, now time.Time) error {
	n, err := conn(ctx, r.db).NewSelect().Model((*inviteRow)(nil)).
		Where("code = ?", code).Where("workspace_id = ?", workspaceID).
		Where("uses < max_uses").Where("expires_at > ?", now).Count(ctx)
	if err != nil {
		return dbError(err, "check invite")
	}
	if n == 0 {
		return errs.NotFoundf("invite code is unknown, used up or expired")
	}
	return nil
}
