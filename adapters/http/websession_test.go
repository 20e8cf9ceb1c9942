package http_test

import (
	"encoding/json"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// webDo sends a request as the web client does: the opt-in header, and
// the cookie when one is given.
func (h *harness) webDo(method, path, token, body string, cookie *nethttp.Cookie) reply {
	h.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Fechatter-Session", "cookie")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := h.srv.Fiber().Test(req, -1)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, raw: raw}
}

func refreshCookie(t *testing.T, r reply) *nethttp.Cookie {
	t.Helper()
	for _, c := range (&nethttp.Response{Header: r.header}).Cookies() {
		if c.Name == "fechatter_refresh" {
			return c
		}
	}
	return nil
}

type authAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

func TestWebSignInKeepsTheRefreshTokenInAnHttpOnlyCookie(t *testing.T) {
	h := newHarness(t)
	signup := `{"email":"web@example.com","password":"password123","fullname":"Web","workspace":"Webco"}`
	r := h.webDo("POST", "/api/v1/auth/signup", "", signup, nil)
	if r.status != 201 {
		t.Fatalf("signup = %d %s", r.status, r.raw)
	}
	var a authAnswer
	r.json(t, &a)
	c := refreshCookie(t, r)
	if a.AccessToken == "" || a.RefreshToken != "" || c == nil || c.Value == "" {
		t.Fatalf("web signup: answer %+v, cookie %+v (want access token, no refresh token in JSON, cookie set)", a, c)
	}
	if !c.HttpOnly || c.SameSite != nethttp.SameSiteStrictMode || c.Path != "/api/v1/auth" || c.MaxAge <= 0 {
		t.Fatalf("cookie attributes: %+v", c)
	}

	// Refresh from the cookie alone: a new access token and a rotated cookie.
	r = h.webDo("POST", "/api/v1/auth/refresh", "", `{}`, c)
	var a2 authAnswer
	r.json(t, &a2)
	c2 := refreshCookie(t, r)
	if r.status != 200 || a2.AccessToken == "" || a2.RefreshToken != "" || c2 == nil || c2.Value == c.Value {
		t.Fatalf("cookie refresh = %d %s, cookie %+v", r.status, r.raw, c2)
	}
	h.must(200, "GET", "/api/v1/users/me", a2.AccessToken, nil, nil)

	// Without the opt-in header the cookie is not used: the body is required.
	req := httptest.NewRequest("POST", "/api/v1/auth/refresh", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(c2)
	resp, err := h.srv.Fiber().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("refresh with a cookie but no header = %d, want 400", resp.StatusCode)
	}

	// No cookie, no body token: 400, nothing rotated.
	if r := h.webDo("POST", "/api/v1/auth/refresh", "", `{}`, nil); r.status != 400 {
		t.Fatalf("refresh without cookie = %d %s", r.status, r.raw)
	}
	// A garbage cookie: 401.
	if r := h.webDo("POST", "/api/v1/auth/refresh", "", `{}`, &nethttp.Cookie{Name: "fechatter_refresh", Value: "nope"}); r.status != 401 {
		t.Fatalf("refresh with a bad cookie = %d %s", r.status, r.raw)
	}

	// Logout with the cookie revokes the session and clears the cookie.
	r = h.webDo("POST", "/api/v1/auth/logout", a2.AccessToken, `{}`, c2)
	cleared := refreshCookie(t, r)
	if r.status != 204 || cleared == nil || cleared.Value != "" || (cleared.MaxAge >= 0 && !cleared.Expires.Before(time.Now())) {
		t.Fatalf("logout = %d %s, cookie %+v", r.status, r.raw, cleared)
	}
	if r := h.webDo("POST", "/api/v1/auth/refresh", "", `{}`, c2); r.status != 401 {
		t.Fatalf("refresh after logout = %d %s", r.status, r.raw)
	}

	// Sign-in as the web client sets a fresh cookie as well.
	r = h.webDo("POST", "/api/v1/auth/signin", "", `{"email":"web@example.com","password":"password123"}`, nil)
	if r.status != 200 || refreshCookie(t, r) == nil {
		t.Fatalf("web signin = %d, cookie %v", r.status, refreshCookie(t, r))
	}
}

func TestAPIClientsStillGetRefreshTokensInJSON(t *testing.T) {
	h := newHarness(t)
	r := h.must(201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": "api@example.com", "password": "password123",
		"fullname": "Api", "workspace": "Apico"}, nil)
	var a authAnswer
	if err := json.Unmarshal(r.raw, &a); err != nil {
		t.Fatal(err)
	}
	if a.RefreshToken == "" || refreshCookie(t, r) != nil {
		t.Fatalf("API signup: refresh token %q, cookie %v", a.RefreshToken, refreshCookie(t, r))
	}
	r = h.must(200, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": a.RefreshToken}, nil)
	if refreshCookie(t, r) != nil || !strings.Contains(string(r.raw), `"refresh_token":"`) {
		t.Fatalf("API refresh: %s, cookie %v", r.raw, refreshCookie(t, r))
	}
}
