package http_test

import (
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/memory/memapp"
)

func TestSignupSigninAndMe(t *testing.T) {
	h := newHarness(t)
	var res struct {
		User struct {
			ID          int64  `json:"id"`
			WorkspaceID int64  `json:"workspace_id"`
			Email       string `json:"email"`
			Fullname    string `json:"fullname"`
			CreatedAt   string `json:"created_at"`
		} `json:"user"`
		Workspace struct {
			ID      int64  `json:"id"`
			Name    string `json:"name"`
			OwnerID int64  `json:"owner_id"`
		} `json:"workspace"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
	}
	h.must(201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": " Alice@Example.com ", "password": "password123",
		"fullname": "Alice", "workspace": "Acme"}, &res)
	if res.User.Email != "alice@example.com" || res.Workspace.Name != "Acme" || res.Workspace.OwnerID != res.User.ID ||
		res.AccessToken == "" || res.RefreshToken == "" || res.ExpiresIn <= 0 || !strings.HasSuffix(res.User.CreatedAt, "Z") {
		t.Fatalf("signup answer: %+v", res)
	}
	var me struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
		Role  string `json:"role"`
	}
	h.must(200, "GET", "/api/v1/users/me", res.AccessToken, nil, &me)
	if me.ID != res.User.ID || me.Role != "owner" {
		t.Errorf("me = %+v", me)
	}
	h.must(200, "POST", "/api/v1/auth/signin", "", map[string]any{"email": "alice@example.com", "password": "password123"}, nil)
	if code := h.must(401, "POST", "/api/v1/auth/signin", "", map[string]any{"email": "alice@example.com", "password": "password124"}, nil).errCode(t); code != "unauthenticated" {
		t.Errorf("wrong password code %q", code)
	}
	h.must(401, "POST", "/api/v1/auth/signin", "", map[string]any{"email": "nobody@example.com", "password": "password123"}, nil)
	// Email taken, even in another workspace.
	if code := h.must(409, "POST", "/api/v1/auth/signup", "", map[string]any{"email": "alice@example.com", "password": "password123",
		"fullname": "A2", "workspace": "Other"}, nil).errCode(t); code != "conflict" {
		t.Errorf("duplicate email code %q", code)
	}
	// And the failed signup did not create the workspace "Other".
	h.must(201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": "o@example.com", "password": "password123",
		"fullname": "O", "workspace": "Other"}, nil)

	for _, path := range []string{"/api/v1/users/me", "/api/v1/chats", "/api/v1/workspace"} {
		if code := h.must(401, "GET", path, "", nil, nil).errCode(t); code != "unauthenticated" {
			t.Errorf("%s without token: %q", path, code)
		}
		h.must(401, "GET", path, "not-a-jwt", nil, nil)
	}
}

func TestJoiningAWorkspaceNeedsAValidInvite(t *testing.T) {
	h := newHarness(t)
	owner := h.signup("Globex", nil)
	body := map[string]any{"email": "bob@example.com", "password": "password123", "fullname": "Bob", "workspace": "Globex"}
	h.must(409, "POST", "/api/v1/auth/signup", "", body, nil)
	body["invite_code"] = "nope"
	h.must(409, "POST", "/api/v1/auth/signup", "", body, nil)

	var inv struct {
		Code      string `json:"code"`
		ExpiresAt string `json:"expires_at"`
		MaxUses   int    `json:"max_uses"`
	}
	h.must(201, "POST", "/api/v1/workspace/invites", owner.Token, map[string]any{"max_uses": 1, "expires_in_hours": 2}, &inv)
	if inv.Code == "" || inv.MaxUses != 1 || inv.ExpiresAt == "" {
		t.Fatalf("invite %+v", inv)
	}
	body["invite_code"] = inv.Code
	var bob struct {
		User struct {
			WorkspaceID int64 `json:"workspace_id"`
		} `json:"user"`
		Token string `json:"access_token"`
	}
	h.must(201, "POST", "/api/v1/auth/signup", "", body, &bob)
	if bob.User.WorkspaceID != owner.WorkspaceID {
		t.Fatalf("bob joined workspace %d, want %d", bob.User.WorkspaceID, owner.WorkspaceID)
	}
	// Used up.
	h.must(409, "POST", "/api/v1/auth/signup", "", map[string]any{"email": "carol@example.com", "password": "password123",
		"fullname": "Carol", "workspace": "Globex", "invite_code": inv.Code}, nil)
	// A plain member may not invite.
	if code := h.must(403, "POST", "/api/v1/workspace/invites", bob.Token, map[string]any{}, nil).errCode(t); code != "forbidden" {
		t.Errorf("member invite code %q", code)
	}
	for _, bad := range []map[string]any{{"max_uses": 0}, {"max_uses": 10001}, {"expires_in_hours": 0}, {"expires_in_hours": 721}, {"max_uses": "3"}} {
		h.must(400, "POST", "/api/v1/workspace/invites", owner.Token, bad, nil)
	}
}

func TestRefreshRotatesAndReuseRevokesTheFamily(t *testing.T) {
	h := newHarness(t)
	u := h.signup("Initech", nil)
	var first struct {
		RefreshToken string `json:"refresh_token"`
		AccessToken  string `json:"access_token"`
	}
	h.must(200, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": u.Refresh}, &first)
	if first.RefreshToken == u.Refresh || first.AccessToken == "" {
		t.Fatal("refresh did not rotate the token")
	}
	// The old token is spent: presenting it again is reuse, and kills the family.
	h.must(401, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": u.Refresh}, nil)
	h.must(401, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": first.RefreshToken}, nil)

	// Another session of the same user is unaffected.
	var other struct {
		RefreshToken string `json:"refresh_token"`
		AccessToken  string `json:"access_token"`
	}
	h.must(200, "POST", "/api/v1/auth/signin", "", map[string]any{"email": u.Email, "password": "password123"}, &other)
	h.must(204, "POST", "/api/v1/auth/logout", other.AccessToken, map[string]any{"refresh_token": other.RefreshToken}, nil)
	h.must(401, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": other.RefreshToken}, nil)
	h.must(401, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": "garbage"}, nil)
	h.must(400, "POST", "/api/v1/auth/refresh", "", map[string]any{}, nil)
}

// Only failures count, with exponential backoff; the right password is
// never locked out for long, and a success clears the email's count.
func TestSignInFailuresBackOffExponentially(t *testing.T) {
	clock := memory.NewFakeClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	h := newHarness(t, func(o *memapp.Options) { o.SignInPerEmail = 3; o.Clock = clock })
	u := h.signup("Hooli", nil)
	wrong := map[string]any{"email": u.Email, "password": "wrong-password"}
	right := map[string]any{"email": u.Email, "password": "password123"}
	for i := 0; i < 3; i++ {
		h.must(401, "POST", "/api/v1/auth/signin", "", wrong, nil)
	}
	h.must(401, "POST", "/api/v1/auth/signin", "", wrong, nil) // 4th failure: 1 s wait
	r := h.must(429, "POST", "/api/v1/auth/signin", "", right, nil)
	if r.errCode(t) != "rate_limited" || r.header.Get("Retry-After") != "1" {
		t.Errorf("429 without rate_limited code or Retry-After 1: %v %s", r.header, r.raw)
	}
	clock.Advance(time.Second)
	h.must(401, "POST", "/api/v1/auth/signin", "", wrong, nil) // 5th: 2 s
	clock.Advance(time.Second)
	h.must(429, "POST", "/api/v1/auth/signin", "", right, nil)
	clock.Advance(time.Second)
	// The real user gets in after the backoff, and the count is cleared.
	h.must(200, "POST", "/api/v1/auth/signin", "", right, nil)
	for i := 0; i < 3; i++ {
		h.must(401, "POST", "/api/v1/auth/signin", "", wrong, nil)
	}
	h.must(200, "POST", "/api/v1/auth/signin", "", right, nil)
	// Other emails are not affected by this email's failures.
	v := h.signup("Hooli2", nil)
	h.must(200, "POST", "/api/v1/auth/signin", "", map[string]any{"email": v.Email, "password": "password123"}, nil)
}

// Successful sign-ins from one address (an office NAT) are never limited;
// failures from it are.
func TestSignInAddressLimitCountsFailuresOnly(t *testing.T) {
	h := newHarness(t, func(o *memapp.Options) { o.SignInPerAddress = 2 })
	a, b, c := h.signup("P1", nil), h.signup("P2", nil), h.signup("P3", nil)
	for i := 0; i < 20; i++ {
		h.must(200, "POST", "/api/v1/auth/signin", "", map[string]any{"email": a.Email, "password": "password123"}, nil)
	}
	h.must(401, "POST", "/api/v1/auth/signin", "", map[string]any{"email": a.Email, "password": "nope-nope"}, nil)
	h.must(401, "POST", "/api/v1/auth/signin", "", map[string]any{"email": b.Email, "password": "nope-nope"}, nil)
	h.must(401, "POST", "/api/v1/auth/signin", "", map[string]any{"email": c.Email, "password": "nope-nope"}, nil)
	h.must(429, "POST", "/api/v1/auth/signin", "", map[string]any{"email": c.Email, "password": "password123"}, nil)
}
