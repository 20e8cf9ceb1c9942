package http

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fechatter/fechatter/application/command"
)

// Web sessions: the browser client keeps its refresh token in a cookie the
// server sets, never in JavaScript-readable storage.
//
// A request opts in with the header "X-Fechatter-Session: cookie" (the web
// client sends it on signup, signin, refresh and logout). Then:
//   - signup, signin and refresh set the refresh token as an HttpOnly,
//     SameSite=Strict cookie scoped to /api/v1/auth, and leave
//     refresh_token out of the JSON answer (the page never sees it);
//   - refresh and logout without refresh_token in the body take it from the
//     cookie; logout clears the cookie.
//
// Without the header nothing changes: API clients get and send refresh
// tokens in JSON as API.md says. The header also guards against cross-site
// requests: a cross-origin page cannot send a custom header without a CORS
// preflight this server does not answer, and SameSite=Strict keeps the
// cookie off cross-site requests anyway.
const (
	webSessionHeader = "X-Fechatter-Session"
	webSessionCookie = "fechatter_refresh"
	webSessionPath   = "/api/v1/auth"
	// webSessionMaxAge bounds the cookie's life; the server's own refresh
	// token lifetime is the real limit (an expired token is refused).
	webSessionMaxAge = 30 * 24 * time.Hour
)

func wantsWebSession(c *fiber.Ctx) bool {
	return c.Get(webSessionHeader) == "cookie"
}

// webSessionAnswer sets the cookie for a web sign-in and returns the answer
// to send: res without its refresh token for web clients, res unchanged
// otherwise.
func webSessionAnswer(c *fiber.Ctx, res command.AuthResult) command.AuthResult {
	if !wantsWebSession(c) || res.RefreshToken == "" {
		return res
	}
	c.Cookie(&fiber.Cookie{
		Name:     webSessionCookie,
		Value:    res.RefreshToken,
		Path:     webSessionPath,
		MaxAge:   int(webSessionMaxAge / time.Second),
		Secure:   c.Protocol() == "https",
		HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode,
	})
	res.RefreshToken = ""
	return res
}

// webSessionToken returns the refresh token of the body, or for a web
// client that sent none, the cookie's.
func webSessionToken(c *fiber.Ctx, fromBody *string) *string {
	if fromBody != nil || !wantsWebSession(c) {
		return fromBody
	}
	if v := c.Cookies(webSessionCookie); v != "" {
		return &v
	}
	return nil
}

// clearWebSession removes the cookie (sign-out, or a refused refresh).
func clearWebSession(c *fiber.Ctx) {
	if !wantsWebSession(c) {
		return
	}
	c.Cookie(&fiber.Cookie{
		Name:     webSessionCookie,
		Value:    "",
		Path:     webSessionPath,
		MaxAge:   -1,
		Expires:  time.Unix(1, 0),
		Secure:   c.Protocol() == "https",
		HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode,
	})
}
