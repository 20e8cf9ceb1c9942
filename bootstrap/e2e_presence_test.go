package bootstrap

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/api"
)

type presenceAnswer struct {
	Presence []struct {
		UserID   int64      `json:"user_id"`
		Status   string     `json:"status"`
		LastSeen *time.Time `json:"last_seen"`
		Platform string     `json:"platform"`
	} `json:"presence"`
}

// wsFrames is a WebSocket client of a real server that reads on demand.
type wsFrames struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialWS(t *testing.T, s server, token, platform string) *wsFrames {
	t.Helper()
	url := strings.Replace(s.base, "http://", "ws://", 1) + "/api/v1/ws?platform=" + platform + "&access_token=" + token
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &wsFrames{t: t, conn: conn}
}

// waitFor reads frames until one of type typ satisfies ok (nil: any).
func (w *wsFrames) waitFor(typ string, ok func(data json.RawMessage) bool) json.RawMessage {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_ = w.conn.SetReadDeadline(deadline)
		var f struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := w.conn.ReadJSON(&f); err != nil {
			w.t.Fatalf("waiting for %s: %v", typ, err)
		}
		if f.Type == typ && (ok == nil || ok(f.Data)) {
			return f.Data
		}
	}
}

// TestPresenceAndTypingOnARealServer runs presence over Postgres and the
// embedded NATS's key-value bucket: online when connected, typing over
// REST reaching the partner's socket, offline a heartbeat after the
// socket closes, and last_seen surviving a restart on the same database.
func TestPresenceAndTypingOnARealServer(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	// One JWT secret for both runs, so that tokens outlive the restart.
	env := []string{"DATABASE_URL=" + dsn, "FECHATTER_PRESENCE_HEARTBEAT=1s", "FECHATTER_JWT_SECRET=" + strings.Repeat("presence-e2e-", 4)}
	s := startServer(t, env...)
	alice, bob := s.pair(t)
	var chat struct{ ID int64 }
	s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "group", "name": "presence", "member_ids": []int64{bob.User.ID}}, &chat)
	path := fmt.Sprintf("/api/v1/presence?user_ids=%d,%d", alice.User.ID, bob.User.ID)

	var ans presenceAnswer
	s.call(t, 200, "GET", path, bob.AccessToken, nil, &ans)
	// Nobody is connected; bob has done nothing yet, alice has created
	// the chat (a REST write is activity).
	if len(ans.Presence) != 2 || ans.Presence[0].Status != "offline" || ans.Presence[1].Status != "offline" ||
		ans.Presence[1].LastSeen != nil {
		t.Fatalf("before anyone connects: %+v", ans)
	}

	bobWS := dialWS(t, s, bob.AccessToken, "web")
	bobWS.waitFor("hello", nil)
	aliceWS := dialWS(t, s, alice.AccessToken, "cli")
	aliceWS.waitFor("hello", nil)
	bobWS.waitFor("presence.updated", func(d json.RawMessage) bool {
		var p struct {
			UserID   int64  `json:"user_id"`
			Status   string `json:"status"`
			Platform string `json:"platform"`
		}
		return json.Unmarshal(d, &p) == nil && p.UserID == alice.User.ID && p.Status == "online" && p.Platform == "cli"
	})

	typedAt := time.Now().UTC().Truncate(time.Microsecond)
	s.call(t, 204, "POST", fmt.Sprintf("/api/v1/chats/%d/typing", chat.ID), alice.AccessToken, map[string]any{"is_typing": true}, nil)
	typingOf := func(on bool) func(json.RawMessage) bool {
		return func(d json.RawMessage) bool {
			var te api.TypingUpdate
			return json.Unmarshal(d, &te) == nil && te.ChatID == chat.ID && te.UserID == alice.User.ID && te.IsTyping == on
		}
	}
	bobWS.waitFor("typing.updated", typingOf(true))

	// Alice's socket closes: her typing stops at once, and she is offline
	// a heartbeat (1 s) later.
	_ = aliceWS.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	bobWS.waitFor("typing.updated", typingOf(false))
	bobWS.waitFor("presence.updated", func(d json.RawMessage) bool {
		var p struct {
			UserID int64  `json:"user_id"`
			Status string `json:"status"`
		}
		return json.Unmarshal(d, &p) == nil && p.UserID == alice.User.ID && p.Status == "offline"
	})
	// Her last activity was the REST typing; it is saved as her last seen.
	var lastSeen time.Time
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.call(t, 200, "GET", path, bob.AccessToken, nil, &ans)
		p := ans.Presence[0]
		if p.Status == "offline" && p.LastSeen != nil && !p.LastSeen.Before(typedAt) {
			lastSeen = *p.LastSeen
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice after she left: %+v, want offline with last_seen at or after %s", p, typedAt)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A restart on the same database (a new NATS, an empty bucket).
	s.stop()
	s2 := startServer(t, env...)
	s2.call(t, 200, "GET", path, bob.AccessToken, nil, &ans)
	p := ans.Presence[0]
	if p.Status != "offline" || p.LastSeen == nil || !p.LastSeen.Equal(lastSeen) || p.Platform != "cli" {
		t.Fatalf("after a restart: %+v, want offline, last_seen %s, cli", p, lastSeen)
	}
}
