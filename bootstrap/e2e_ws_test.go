package bootstrap

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/fechatter/fechatter/adapters/http/contract"
)

// TestWebSocketDeliversOnARealServer connects a WebSocket to a whole server
// (Postgres, embedded NATS, outbox relay, gateway): a message sent over REST
// by one member arrives live at the other, after the hello.
func TestWebSocketDeliversOnARealServer(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	alice, bob := s.pair(t)
	var chat struct{ ID int64 }
	s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "group", "name": "live", "member_ids": []int64{bob.User.ID}}, &chat)
	s.call(t, 201, "POST", fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID), alice.AccessToken, map[string]any{"content": "before bob connects"}, nil)

	url := strings.Replace(s.base, "http://", "ws://", 1) + "/api/v1/ws?platform=test&access_token=" + bob.AccessToken
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	type frame struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	read := func() frame {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		var f frame
		_, raw, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("read frame: %v", err)
		}
		if err := contract.Default(t).ServerFrame(raw); err != nil {
			t.Errorf("contract: %v", err)
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("frame %s: %v", raw, err)
		}
		return f
	}
	hello := read()
	var h struct {
		UserID int64 `json:"user_id"`
		Chats  []struct {
			ChatID  int64 `json:"chat_id"`
			LastSeq int64 `json:"last_seq"`
		} `json:"chats"`
	}
	_ = json.Unmarshal(hello.Data, &h)
	if hello.Type != "hello" || h.UserID != bob.User.ID || len(h.Chats) != 1 || h.Chats[0].LastSeq != 1 {
		t.Fatalf("hello: %s %s", hello.Type, hello.Data)
	}
	s.call(t, 201, "POST", fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID), alice.AccessToken, map[string]any{"content": "live now"}, nil)
	for {
		f := read()
		if f.Type != "message.created" {
			continue // other events of the chat may come first
		}
		var m struct {
			Seq     int64  `json:"seq"`
			Content string `json:"content"`
		}
		_ = json.Unmarshal(f.Data, &m)
		if m.Seq <= h.Chats[0].LastSeq {
			// Sent before the hello: it may still be on its way from the
			// outbox; clients drop what hello already covered.
			continue
		}
		if m.Seq != 2 || m.Content != "live now" {
			t.Fatalf("message.created %s", f.Data)
		}
		break
	}
}
