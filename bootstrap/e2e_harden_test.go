package bootstrap

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"

	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/ports/porttest"
)

// Two instances on one Postgres: a logout on one is refused at once by the
// other (REST and WebSocket upgrade), the session's socket closes with
// 4001, and failed sign-ins on one count on the other.
func TestRevocationAndSignInLimitsAcrossInstances(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	env := []string{"DATABASE_URL=" + dsn, "FECHATTER_JWT_SECRET=" + strings.Repeat("harden-e2e-", 4),
		"FECHATTER_AUTH_SIGNIN_LIMIT_PER_EMAIL_MAX=2"}
	a := startServer(t, env...)
	b := startServer(t, env...)
	email := porttest.Unique("r") + "@x.test"
	var u struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	a.call(t, 201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": email, "password": "correct-horse",
		"fullname": "R", "workspace": porttest.Unique("ws-")}, &u)
	b.call(t, 200, "GET", "/api/v1/users/me", u.AccessToken, nil, nil)
	ws := dialWS(t, a, u.AccessToken, "cli")
	ws.waitFor("hello", nil)
	// A NUL in a frame is an invalid_argument error frame naming the field;
	// the connection stays open.
	if err := ws.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"message.send","ref":"n1","chat_id":1,"content":"a\u0000b"}`)); err != nil {
		t.Fatal(err)
	}
	ws.waitFor("error", func(d json.RawMessage) bool {
		return strings.Contains(string(d), `"invalid_argument"`) && strings.Contains(string(d), `content`) && strings.Contains(string(d), `"n1"`)
	})

	a.call(t, 204, "POST", "/api/v1/auth/logout", u.AccessToken, map[string]any{"refresh_token": u.RefreshToken}, nil)
	b.call(t, 401, "GET", "/api/v1/users/me", u.AccessToken, nil, nil)
	a.call(t, 401, "GET", "/api/v1/users/me", u.AccessToken, nil, nil)
	url := strings.Replace(b.base, "http://", "ws://", 1) + "/api/v1/ws?platform=cli&access_token=" + u.AccessToken
	if _, resp, err := websocket.DefaultDialer.Dial(url, nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("WebSocket upgrade with a revoked session's token on the other instance: %v %v, want 401", err, resp)
	}
	for {
		_, _, err := ws.conn.ReadMessage()
		if err != nil {
			if !websocket.IsCloseError(err, 4001) {
				t.Fatalf("socket of the revoked session ended with %v, want close 4001", err)
			}
			break
		}
	}

	// Failures are shared: two free on a, the third on b starts the backoff,
	// and the right password then waits on a.
	wrong := map[string]any{"email": email, "password": "wrong-horse"}
	a.call(t, 401, "POST", "/api/v1/auth/signin", "", wrong, nil)
	b.call(t, 401, "POST", "/api/v1/auth/signin", "", wrong, nil)
	b.call(t, 401, "POST", "/api/v1/auth/signin", "", wrong, nil)
	a.call(t, 429, "POST", "/api/v1/auth/signin", "", map[string]any{"email": email, "password": "correct-horse"}, nil)
}
