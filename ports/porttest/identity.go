package porttest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/identity"
	"github.com/fechatter/fechatter/ports"
)

// RunIdentityRepositories checks WorkspaceRepository, UserRepository,
// InviteRepository and RefreshTokenRepository. It uses Env.Workspaces,
// Env.Users, Env.Invites and Env.Tokens; newEnv is called once per case.
func RunIdentityRepositories(t *testing.T, newEnv func(t *testing.T) Env) {
	t.Run("Workspaces", func(t *testing.T) { t.Parallel(); runWorkspaces(t, newEnv) })
	t.Run("Users", func(t *testing.T) { t.Parallel(); runUsers(t, newEnv) })
	t.Run("Invites", func(t *testing.T) { t.Parallel(); runInvites(t, newEnv) })
	t.Run("RefreshTokens", func(t *testing.T) { t.Parallel(); runRefreshTokens(t, newEnv) })
}

func runWorkspaces(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()

	t.Run("create sets id and reads back", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := identity.Workspace{Name: Unique("ws-"), CreatedAt: Now()}
		if err := env.Workspaces.Create(ctx, &ws); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if ws.ID <= 0 {
			t.Fatalf("Create set id %d; want > 0", ws.ID)
		}
		got, err := env.Workspaces.ByID(ctx, ws.ID)
		if err != nil {
			t.Fatalf("ByID: %v", err)
		}
		checkWorkspace(t, got, ws)
		got, err = env.Workspaces.ByName(ctx, ws.Name)
		if err != nil {
			t.Fatalf("ByName: %v", err)
		}
		checkWorkspace(t, got, ws)
	})

	t.Run("ids are distinct", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		a, b := env.NewWorkspace(t), env.NewWorkspace(t)
		if a.ID == b.ID {
			t.Fatalf("two workspaces got id %d", a.ID)
		}
	})

	t.Run("taken name is Conflict", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		dup := identity.Workspace{Name: ws.Name, CreatedAt: Now()}
		err := env.Workspaces.Create(ctx, &dup)
		if !errs.Is(err, errs.Conflict) {
			t.Fatalf("Create with taken name: err = %v; want Conflict", err)
		}
	})

	t.Run("unknown is NotFound", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		if _, err := env.Workspaces.ByName(ctx, Unique("nope-")); !errs.Is(err, errs.NotFound) {
			t.Fatalf("ByName unknown: err = %v; want NotFound", err)
		}
		if _, err := env.Workspaces.ByID(ctx, 1<<60); !errs.Is(err, errs.NotFound) {
			t.Fatalf("ByID unknown: err = %v; want NotFound", err)
		}
	})

	t.Run("SetOwner", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		owner := env.NewUserRole(t, ws.ID, identity.WorkspaceOwner)
		if err := env.Workspaces.SetOwner(ctx, ws.ID, owner.ID); err != nil {
			t.Fatalf("SetOwner: %v", err)
		}
		got, err := env.Workspaces.ByID(ctx, ws.ID)
		if err != nil {
			t.Fatalf("ByID: %v", err)
		}
		if got.OwnerID != owner.ID {
			t.Fatalf("OwnerID = %d; want %d", got.OwnerID, owner.ID)
		}
	})
}

func checkWorkspace(t *testing.T, got, want identity.Workspace) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.OwnerID != want.OwnerID || !sameTime(got.CreatedAt, want.CreatedAt) {
		t.Fatalf("workspace = %+v; want %+v", got, want)
	}
}

func checkUser(t *testing.T, got, want identity.User) {
	t.Helper()
	if got.ID != want.ID || got.WorkspaceID != want.WorkspaceID || got.Email != want.Email ||
		got.Fullname != want.Fullname || got.PasswordHash != want.PasswordHash || got.Role != want.Role ||
		!sameTime(got.CreatedAt, want.CreatedAt) {
		t.Fatalf("user = %+v; want %+v", got, want)
	}
}

func userIDs(us []identity.User) []int64 {
	ids := make([]int64, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids
}

func runUsers(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()

	t.Run("SetPasswordHash", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		u := env.NewUser(t, env.NewWorkspace(t).ID)
		if err := env.Users.SetPasswordHash(ctx, u.ID, "$argon2id$new"); err != nil {
			t.Fatalf("SetPasswordHash: %v", err)
		}
		if got, _ := env.Users.ByID(ctx, u.ID); got.PasswordHash != "$argon2id$new" {
			t.Fatalf("hash after SetPasswordHash = %q", got.PasswordHash)
		}
		if err := env.Users.SetPasswordHash(ctx, u.ID+1000000, "x"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("SetPasswordHash of an unknown user: %v; want NotFound", err)
		}
	})

	t.Run("create sets id and reads back", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := identity.User{WorkspaceID: ws.ID, Email: Unique("u") + "@example.com", Fullname: "Ada Lovelace",
			PasswordHash: "$argon2id$v=19$x", Role: identity.WorkspaceAdmin, CreatedAt: Now()}
		if err := env.Users.Create(ctx, &u); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if u.ID <= 0 {
			t.Fatalf("Create set id %d; want > 0", u.ID)
		}
		got, err := env.Users.ByID(ctx, u.ID)
		if err != nil {
			t.Fatalf("ByID: %v", err)
		}
		checkUser(t, got, u)
		got, err = env.Users.ByEmail(ctx, u.Email)
		if err != nil {
			t.Fatalf("ByEmail: %v", err)
		}
		checkUser(t, got, u)
	})

	t.Run("taken email is Conflict, in any workspace", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws, other := env.NewWorkspace(t), env.NewWorkspace(t)
		u := env.NewUser(t, ws.ID)
		for _, wsID := range []int64{ws.ID, other.ID} {
			dup := identity.User{WorkspaceID: wsID, Email: u.Email, Fullname: "Dup", PasswordHash: "h",
				Role: identity.WorkspaceMember, CreatedAt: Now()}
			if err := env.Users.Create(ctx, &dup); !errs.Is(err, errs.Conflict) {
				t.Fatalf("Create with taken email in workspace %d: err = %v; want Conflict", wsID, err)
			}
		}
	})

	t.Run("unknown is NotFound", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		if _, err := env.Users.ByEmail(ctx, Unique("nobody-")+"@example.com"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("ByEmail unknown: err = %v; want NotFound", err)
		}
		if _, err := env.Users.ByID(ctx, 1<<60); !errs.Is(err, errs.NotFound) {
			t.Fatalf("ByID unknown: err = %v; want NotFound", err)
		}
	})

	t.Run("Search", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws, other := env.NewWorkspace(t), env.NewWorkspace(t)
		tag := Unique("")
		mk := func(wsID int64, email, name string) identity.User {
			u := identity.User{WorkspaceID: wsID, Email: email, Fullname: name, PasswordHash: "h",
				Role: identity.WorkspaceMember, CreatedAt: Now()}
			if err := env.Users.Create(ctx, &u); err != nil {
				t.Fatalf("Create: %v", err)
			}
			return u
		}
		alice := mk(ws.ID, "alice."+tag+"@example.com", "Alice Martin")
		bob := mk(ws.ID, "bob."+tag+"@example.com", "Bob Stone")
		carol := mk(ws.ID, "carol."+tag+"@example.org", "Carol MARTINEZ")
		mk(other.ID, "martin."+tag+"@example.com", "Martin Elsewhere")

		cases := []struct {
			q     string
			limit int
			want  []int64
		}{
			{"", 10, []int64{alice.ID, bob.ID, carol.ID}},
			{"", 2, []int64{alice.ID, bob.ID}},
			{"martin", 10, []int64{alice.ID, carol.ID}},
			{"MARTIN", 10, []int64{alice.ID, carol.ID}},
			{"example.org", 10, []int64{carol.ID}},
			{"BOB." + strings.ToUpper(tag), 10, []int64{bob.ID}},
			{"stone", 10, []int64{bob.ID}},
			{"nobody-at-all", 10, nil},
		}
		for _, c := range cases {
			got, err := env.Users.Search(ctx, ws.ID, c.q, c.limit)
			if err != nil {
				t.Fatalf("Search(%q, %d): %v", c.q, c.limit, err)
			}
			if ids := userIDs(got); !slices.Equal(ids, c.want) {
				t.Errorf("Search(%q, %d) = %v; want %v", c.q, c.limit, ids, c.want)
			}
		}
		got, err := env.Users.Search(ctx, ws.ID, "alice", 10)
		if err != nil || len(got) != 1 {
			t.Fatalf("Search(alice) = %v, %v; want one user", got, err)
		}
		checkUser(t, got[0], alice)
	})

	t.Run("InWorkspace", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws, other := env.NewWorkspace(t), env.NewWorkspace(t)
		in := env.NewUsers(t, ws.ID, 3)
		out := env.NewUser(t, other.ID)
		ask := []int64{in[2].ID, out.ID, in[0].ID, 1 << 60}
		got, err := env.Users.InWorkspace(ctx, ws.ID, ask)
		if err != nil {
			t.Fatalf("InWorkspace: %v", err)
		}
		slices.Sort(got)
		want := []int64{in[0].ID, in[2].ID}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("InWorkspace(%v) = %v; want %v (any order)", ask, got, want)
		}
		got, err = env.Users.InWorkspace(ctx, ws.ID, nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("InWorkspace(nil) = %v, %v; want nothing", got, err)
		}
	})
}

func runInvites(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()
	// setup stores an invite of a fresh workspace with maxUses admissions
	// expiring at now+1h.
	setup := func(t *testing.T, env Env, maxUses int) (identity.Invite, time.Time) {
		t.Helper()
		ws := env.NewWorkspace(t)
		owner := env.NewUserRole(t, ws.ID, identity.WorkspaceOwner)
		now := Now()
		hours := 1
		inv, err := identity.NewInvite(Unique("code-"), owner, &maxUses, &hours, now)
		if err != nil {
			t.Fatalf("NewInvite: %v", err)
		}
		if err := env.Invites.Create(ctx, inv); err != nil {
			t.Fatalf("Create: %v", err)
		}
		return inv, now
	}

	t.Run("redeem until used up", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		inv, now := setup(t, env, 2)
		for i := 0; i < 2; i++ {
			if err := env.Invites.Redeem(ctx, inv.Code, inv.WorkspaceID, now.Add(time.Minute)); err != nil {
				t.Fatalf("Redeem %d: %v", i+1, err)
			}
		}
		if err := env.Invites.Redeem(ctx, inv.Code, inv.WorkspaceID, now.Add(time.Minute)); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Redeem of a used-up invite: err = %v; want NotFound", err)
		}
	})

	t.Run("Check uses nothing and agrees with Redeem", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		inv, now := setup(t, env, 1)
		at := now.Add(time.Minute)
		for i := 0; i < 3; i++ {
			if err := env.Invites.Check(ctx, inv.Code, inv.WorkspaceID, at); err != nil {
				t.Fatalf("Check %d: %v", i+1, err)
			}
		}
		if err := env.Invites.Check(ctx, inv.Code, inv.WorkspaceID+1000000, at); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Check for another workspace: %v; want NotFound", err)
		}
		if err := env.Invites.Check(ctx, "nope-"+inv.Code, inv.WorkspaceID, at); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Check of an unknown code: %v; want NotFound", err)
		}
		if err := env.Invites.Redeem(ctx, inv.Code, inv.WorkspaceID, at); err != nil {
			t.Fatalf("Redeem after Checks: %v", err)
		}
		if err := env.Invites.Check(ctx, inv.Code, inv.WorkspaceID, at); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Check of a used-up invite: %v; want NotFound", err)
		}
	})

	t.Run("expired is NotFound", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		inv, _ := setup(t, env, 5)
		for _, at := range []time.Time{inv.ExpiresAt, inv.ExpiresAt.Add(time.Second)} {
			if err := env.Invites.Redeem(ctx, inv.Code, inv.WorkspaceID, at); !errs.Is(err, errs.NotFound) {
				t.Fatalf("Redeem at %v (expires %v): err = %v; want NotFound", at, inv.ExpiresAt, err)
			}
		}
		// Failed attempts used nothing: the invite still admits before expiry.
		if err := env.Invites.Redeem(ctx, inv.Code, inv.WorkspaceID, inv.ExpiresAt.Add(-time.Microsecond)); err != nil {
			t.Fatalf("Redeem just before expiry: %v", err)
		}
	})

	t.Run("other workspace or unknown code is NotFound", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		inv, now := setup(t, env, 5)
		other := env.NewWorkspace(t)
		if err := env.Invites.Redeem(ctx, inv.Code, other.ID, now); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Redeem for another workspace: err = %v; want NotFound", err)
		}
		if err := env.Invites.Redeem(ctx, Unique("nope-"), inv.WorkspaceID, now); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Redeem unknown code: err = %v; want NotFound", err)
		}
		if err := env.Invites.Redeem(ctx, inv.Code, inv.WorkspaceID, now); err != nil {
			t.Fatalf("Redeem after failed attempts: %v", err)
		}
	})

	t.Run("concurrent redeems never exceed max uses", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		const maxUses, callers = 5, 20
		inv, now := setup(t, env, maxUses)
		var wg sync.WaitGroup
		results := make([]error, callers)
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = env.Invites.Redeem(ctx, inv.Code, inv.WorkspaceID, now)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range results {
			switch {
			case err == nil:
				ok++
			case !errs.Is(err, errs.NotFound):
				t.Errorf("concurrent Redeem: unexpected error %v", err)
			}
		}
		if ok != maxUses {
			t.Fatalf("%d of %d concurrent redeems succeeded; want exactly %d", ok, callers, maxUses)
		}
	})
}

func checkToken(t *testing.T, got, want ports.RefreshToken) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.FamilyID != want.FamilyID || got.Hash != want.Hash ||
		!sameTime(got.ExpiresAt, want.ExpiresAt) || !sameTime(got.CreatedAt, want.CreatedAt) ||
		!sameTime(got.UsedAt, want.UsedAt) || !sameTime(got.RevokedAt, want.RevokedAt) {
		t.Fatalf("token = %+v; want %+v", got, want)
	}
}

func runRefreshTokens(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()
	newToken := func(t *testing.T, env Env, userID int64, family string) ports.RefreshToken {
		t.Helper()
		now := Now()
		tok := ports.RefreshToken{UserID: userID, FamilyID: family, Hash: Unique("hash-"),
			ExpiresAt: now.Add(30 * 24 * time.Hour), CreatedAt: now}
		if err := env.Tokens.Create(ctx, &tok); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if tok.ID <= 0 {
			t.Fatalf("Create set id %d; want > 0", tok.ID)
		}
		return tok
	}
	user := func(t *testing.T, env Env) identity.User {
		t.Helper()
		return env.NewUser(t, env.NewWorkspace(t).ID)
	}
	byHash := func(t *testing.T, env Env, hash string) ports.RefreshToken {
		t.Helper()
		got, err := env.Tokens.ByHash(ctx, hash)
		if err != nil {
			t.Fatalf("ByHash: %v", err)
		}
		return got
	}

	t.Run("sessions end: FamilyRevoked and RevokeUserFamilies", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		u, other := user(t, env), user(t, env)
		keep, a, b := Unique("fam-"), Unique("fam-"), Unique("fam-")
		newToken(t, env, u.ID, keep)
		newToken(t, env, u.ID, a)
		newToken(t, env, u.ID, a)
		newToken(t, env, u.ID, b)
		theirs := Unique("fam-")
		newToken(t, env, other.ID, theirs)
		revoked := func(f string) bool {
			t.Helper()
			ok, err := env.Tokens.FamilyRevoked(ctx, f)
			if err != nil {
				t.Fatalf("FamilyRevoked: %v", err)
			}
			return ok
		}
		if revoked(keep) || revoked(a) || revoked(theirs) {
			t.Fatal("a live family reads as revoked")
		}
		if !revoked(Unique("unknown-")) {
			t.Fatal("an unknown family reads as live")
		}
		got, err := env.Tokens.RevokeUserFamilies(ctx, u.ID, keep, Now())
		if err != nil {
			t.Fatalf("RevokeUserFamilies: %v", err)
		}
		want := []string{a, b}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("RevokeUserFamilies = %v, want %v", got, want)
		}
		if !revoked(a) || !revoked(b) || revoked(keep) || revoked(theirs) {
			t.Fatal("RevokeUserFamilies revoked the wrong families")
		}
		if got, _ := env.Tokens.RevokeUserFamilies(ctx, u.ID, keep, Now()); len(got) != 0 {
			t.Fatalf("revoking again reported %v", got)
		}
		if got, _ := env.Tokens.RevokeUserFamilies(ctx, u.ID, "", Now()); !slices.Equal(got, []string{keep}) || !revoked(keep) {
			t.Fatalf("revoking all reported %v", got)
		}
	})

	t.Run("create and ByHash", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		u := user(t, env)
		tok := newToken(t, env, u.ID, UUID())
		checkToken(t, byHash(t, env, tok.Hash), tok)
		if _, err := env.Tokens.ByHash(ctx, Unique("nope-")); !errs.Is(err, errs.NotFound) {
			t.Fatalf("ByHash unknown: err = %v; want NotFound", err)
		}
	})

	t.Run("MarkUsed once", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		u := user(t, env)
		tok := newToken(t, env, u.ID, UUID())
		at := Now().Add(time.Minute)
		ok, err := env.Tokens.MarkUsed(ctx, tok.ID, at)
		if err != nil || !ok {
			t.Fatalf("first MarkUsed = %v, %v; want true, nil", ok, err)
		}
		ok, err = env.Tokens.MarkUsed(ctx, tok.ID, at.Add(time.Minute))
		if err != nil || ok {
			t.Fatalf("second MarkUsed = %v, %v; want false, nil", ok, err)
		}
		tok.UsedAt = at
		checkToken(t, byHash(t, env, tok.Hash), tok)
	})

	t.Run("MarkUsed of unknown token does nothing", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		if ok, _ := env.Tokens.MarkUsed(ctx, 1<<60, Now()); ok {
			t.Fatalf("MarkUsed of an unknown token reported true")
		}
	})

	t.Run("concurrent MarkUsed: exactly one wins", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		u := user(t, env)
		tok := newToken(t, env, u.ID, UUID())
		const callers = 10
		var wg sync.WaitGroup
		won := make([]bool, callers)
		fails := make([]error, callers)
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				won[i], fails[i] = env.Tokens.MarkUsed(ctx, tok.ID, Now())
			}()
		}
		wg.Wait()
		n := 0
		for i := range callers {
			if fails[i] != nil {
				t.Errorf("MarkUsed: %v", fails[i])
			}
			if won[i] {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d of %d concurrent MarkUsed calls won; want exactly 1", n, callers)
		}
	})

	t.Run("RevokeFamily", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		u := user(t, env)
		family, otherFamily := UUID(), UUID()
		used := newToken(t, env, u.ID, family)
		if ok, err := env.Tokens.MarkUsed(ctx, used.ID, Now()); err != nil || !ok {
			t.Fatalf("MarkUsed = %v, %v", ok, err)
		}
		current := newToken(t, env, u.ID, family)
		other := newToken(t, env, u.ID, otherFamily)

		at := Now().Add(time.Hour)
		if err := env.Tokens.RevokeFamily(ctx, family, at); err != nil {
			t.Fatalf("RevokeFamily: %v", err)
		}
		for _, tok := range []ports.RefreshToken{used, current} {
			got := byHash(t, env, tok.Hash)
			if got.RevokedAt.IsZero() {
				t.Fatalf("token %d of the revoked family has no revoked_at", tok.ID)
			}
		}
		if got := byHash(t, env, current.Hash); !sameTime(got.RevokedAt, at) || !got.UsedAt.IsZero() {
			t.Fatalf("revoked current token = %+v; want revoked_at %v and no used_at", got, at)
		}
		if ok, err := env.Tokens.MarkUsed(ctx, current.ID, Now()); err != nil || ok {
			t.Fatalf("MarkUsed of a revoked token = %v, %v; want false, nil", ok, err)
		}
		if got := byHash(t, env, other.Hash); !got.RevokedAt.IsZero() {
			t.Fatalf("token of another family was revoked: %+v", got)
		}
		if ok, err := env.Tokens.MarkUsed(ctx, other.ID, Now()); err != nil || !ok {
			t.Fatalf("MarkUsed of another family's token = %v, %v; want true, nil", ok, err)
		}
	})
}
