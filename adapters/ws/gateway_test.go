package ws_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/adapters/ws"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

func TestHandshakeRejectsBeforeUpgrade(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	s := e.start(bus, serverOptions{})
	u := e.users(1)[0]

	errorBody := func(t *testing.T, resp *http.Response) (code, msg string) {
		t.Helper()
		var b struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		raw, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatalf("body %q is not the error shape: %v", raw, err)
		}
		if b.Error.Message == "" {
			t.Fatalf("body %q has no message", raw)
		}
		return b.Error.Code, b.Error.Message
	}
	for _, tc := range []struct {
		name   string
		token  string
		query  string
		status int
		code   string
	}{
		{name: "no token", status: 401, code: "unauthenticated"},
		{name: "garbage token", token: "garbage", status: 401, code: "unauthenticated"},
		{name: "garbage query token", query: "access_token=garbage", status: 401, code: "unauthenticated"},
		{name: "platform too long", token: u.Token, query: "platform=" + strings.Repeat("x", ws.MaxPlatformLength+1), status: 400, code: "invalid_argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := dialRaw(s, tc.token, dialOptions{query: tc.query, noToken: tc.token == ""})
			if err == nil {
				c.Close()
				t.Fatal("upgraded")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("got %v, %v; want status %d", resp, err, tc.status)
			}
			if code, _ := errorBody(t, resp); code != tc.code {
				t.Fatalf("code %q, want %q", code, tc.code)
			}
		})
	}
	t.Run("not an upgrade", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http"+strings.TrimPrefix(s.url, "ws"), nil)
		req.Header.Set("Authorization", "Bearer "+u.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusUpgradeRequired {
			t.Fatalf("status %d, want 426", resp.StatusCode)
		}
		if code, _ := errorBody(t, resp); code != "invalid_argument" {
			t.Fatalf("code %q", code)
		}
	})
	t.Run("bad websocket version", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http"+strings.TrimPrefix(s.url, "ws"), nil)
		req.Header.Set("Authorization", "Bearer "+u.Token)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "8")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
		if code, _ := errorBody(t, resp); code != "invalid_argument" {
			t.Fatalf("code %q", code)
		}
	})
	t.Run("query token and platform", func(t *testing.T) {
		c := dial(t, s, u, "query", dialOptions{noToken: true, query: "access_token=" + u.Token + "&platform=web"})
		if h := c.hello(); h.UserID != u.ID {
			t.Fatalf("hello for user %d, want %d", h.UserID, u.ID)
		}
	})
}

func TestHelloThenSendAndAck(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	s := e.start(bus, serverOptions{})
	us := e.users(3)
	alice, bob, eve := us[0], us[1], us[2]
	g := e.group(alice, bob)
	other := e.group(bob, eve)

	ca := dial(t, s, alice, "alice", dialOptions{query: "platform=cli"})
	cb := dial(t, s, bob, "bob", dialOptions{})
	h := ca.hello()
	if h.UserID != alice.ID || h.SessionID != alice.Session || h.HeartbeatIntervalMs != 25000 {
		t.Fatalf("hello %+v; want user %d session %s heartbeat 25000", h, alice.ID, alice.Session)
	}
	if seq, ok := h.lastSeq(g.ID); !ok || seq != 0 || len(h.Chats) != 1 {
		t.Fatalf("hello chats %+v; want only chat %d at 0", h.Chats, g.ID)
	}
	cb.hello()

	ca.write(map[string]any{"type": "message.send", "ref": "r1", "chat_id": g.ID, "content": "hello bob", "idempotency_key": "k1"})
	var ack struct {
		Ref     string        `json:"ref"`
		Message query.Message `json:"message"`
		Replay  bool          `json:"replay"`
	}
	ca.waitFor("ack r1", isAck("r1")).decode(t, &ack)
	if ack.Replay || ack.Message.Seq != 1 || ack.Message.Content != "hello bob" || ack.Message.SenderID != alice.ID {
		t.Fatalf("ack %+v", ack)
	}
	cb.waitFor("message 1 at bob", isCreated(g.ID, 1))
	ca.waitFor("message 1 at its sender", isCreated(g.ID, 1))

	// An idempotent repeat answers the same message, replayed.
	ca.write(map[string]any{"type": "message.send", "ref": 2, "chat_id": g.ID, "content": "hello bob", "idempotency_key": "k1"})
	var replay struct {
		Ref     int           `json:"ref"`
		Message query.Message `json:"message"`
		Replay  bool          `json:"replay"`
	}
	ca.waitFor("ack 2", func(f frame) bool { return f.Type == "ack" && strings.Contains(string(f.Data), `"ref":2`) }).decode(t, &replay)
	if !replay.Replay || replay.Message.ID != ack.Message.ID {
		t.Fatalf("replay ack %+v, want replay of message %d", replay, ack.Message.ID)
	}

	// Errors come back as error frames with the ref, codes as in REST.
	ca.write(map[string]any{"type": "message.send", "ref": "r3", "chat_id": other.ID, "content": "let me in"})
	ca.write(map[string]any{"type": "message.send", "ref": "r4", "chat_id": g.ID, "content": "   "})
	ca.write(map[string]any{"type": "message.send", "ref": "r5", "chat_id": g.ID, "content": "x", "idempotency_key": "k1"})
	for ref, code := range map[string]string{"r3": "not_found", "r4": "invalid_argument", "r5": "conflict"} {
		var d errorData
		ca.waitFor("error "+ref, func(f frame) bool {
			return f.Type == "error" && strings.Contains(string(f.Data), `"ref":"`+ref+`"`)
		}).decode(t, &d)
		if d.Code != code || d.Message == "" {
			t.Errorf("%s: error %+v, want code %s", ref, d, code)
		}
	}
	ca.roundTrip()
	if n := cb.count(isType("message.created")); n != 1 {
		t.Fatalf("bob got %d message.created, want 1", n)
	}
}

func TestRateLimitedSendTellsWhenToRetry(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{SendBurst: 1})
	s := e.start(bus, serverOptions{})
	us := e.users(2)
	g := e.group(us[0], us[1])
	c := dial(t, s, us[0], "sender", dialOptions{})
	c.hello()
	c.write(map[string]any{"type": "message.send", "ref": "a", "chat_id": g.ID, "content": "one"})
	c.write(map[string]any{"type": "message.send", "ref": "b", "chat_id": g.ID, "content": "two"})
	c.waitFor("ack a", isAck("a"))
	var d errorData
	c.waitFor("error b", isType("error")).decode(t, &d)
	if string(d.Ref) != `"b"` || d.Code != "rate_limited" || d.RetryAfterMs <= 0 {
		t.Fatalf("error %+v, want rate_limited for b with retry_after_ms", d)
	}
}

func TestBadFramesGetErrorsAndTheConnectionStays(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	s := e.start(bus, serverOptions{})
	us := e.users(3)
	alice, bob, eve := us[0], us[1], us[2]
	g := e.group(alice, bob)
	other := e.group(bob, eve)
	c := dial(t, s, alice, "alice", dialOptions{})
	c.hello()

	for _, tc := range []struct {
		name  string
		typ   int
		frame string
		code  string
		ref   string
	}{
		{name: "not JSON", frame: `hello`, code: "invalid_argument"},
		{name: "truncated JSON", frame: `{"type":"ping"`, code: "invalid_argument"},
		{name: "not an object", frame: `["ping"]`, code: "invalid_argument"},
		{name: "no type", frame: `{"ref":"x"}`, code: "invalid_argument", ref: `"x"`},
		{name: "type not a string", frame: `{"type":7}`, code: "invalid_argument"},
		{name: "unknown type", frame: `{"type":"message.explode","ref":"u"}`, code: "invalid_argument", ref: `"u"`},
		{name: "invalid UTF-8", frame: "{\"type\":\"ping\",\"x\":\"\xff\xfe\"}", code: "invalid_argument"},
		{name: "binary frame", typ: websocket.BinaryMessage, frame: `{"type":"ping"}`, code: "invalid_argument"},
		{name: "ref an object", frame: `{"type":"ping","ref":{"a":1}}`, code: "invalid_argument"},
		{name: "send without ref", frame: `{"type":"message.send","chat_id":1,"content":"x"}`, code: "invalid_argument"},
		{name: "send chat_id a string", frame: `{"type":"message.send","ref":"s1","chat_id":"1","content":"x"}`, code: "invalid_argument", ref: `"s1"`},
		{name: "send chat_id a fraction", frame: `{"type":"message.send","ref":"s2","chat_id":1.5,"content":"x"}`, code: "invalid_argument", ref: `"s2"`},
		{name: "send no content", frame: `{"type":"message.send","ref":"s3","chat_id":1}`, code: "invalid_argument", ref: `"s3"`},
		{name: "send content null", frame: `{"type":"message.send","ref":"s4","chat_id":1,"content":null}`, code: "invalid_argument", ref: `"s4"`},
		{name: "send zero chat", frame: `{"type":"message.send","ref":"s5","chat_id":0,"content":"x"}`, code: "invalid_argument", ref: `"s5"`},
		{name: "typing without is_typing", frame: `{"type":"typing","chat_id":1}`, code: "invalid_argument"},
		{name: "typing is_typing a string", frame: `{"type":"typing","chat_id":1,"is_typing":"yes"}`, code: "invalid_argument"},
		{name: "read seq zero", frame: `{"type":"read","chat_id":1,"seq":0}`, code: "invalid_argument"},
		{name: "delivered no seq", frame: `{"type":"delivered","chat_id":1}`, code: "invalid_argument"},
		{name: "presence busy", frame: `{"type":"presence","status":"busy"}`, code: "invalid_argument"},
		{name: "typing in a chat of others", frame: `{"type":"typing","chat_id":` + itoa(other.ID) + `,"is_typing":true}`, code: "not_found"},
		{name: "read in a chat of others", frame: `{"type":"read","chat_id":` + itoa(other.ID) + `,"seq":1}`, code: "not_found"},
	} {
		n := c.count(isType("error"))
		typ := tc.typ
		if typ == 0 {
			typ = websocket.TextMessage
		}
		c.writeRaw(typ, []byte(tc.frame))
		c.waitCount(tc.name, isType("error"), n+1)
		var d errorData
		errs := []frame{}
		for _, f := range c.snapshot() {
			if f.Type == "error" {
				errs = append(errs, f)
			}
		}
		errs[n].decode(t, &d)
		if d.Code != tc.code || d.Message == "" || string(d.Ref) != tc.ref {
			t.Errorf("%s: error %+v (ref %s), want code %s ref %q", tc.name, d, d.Ref, tc.code, tc.ref)
		}
		c.roundTrip() // still open, nothing else said
	}

	// Frames of a member about its chat are accepted silently (delivered
	// and read need a message to point at).
	e.send(bob, g.ID, "something to read")
	errsBefore := c.count(isType("error"))
	for _, f := range []string{
		`{"type":"typing","chat_id":` + itoa(g.ID) + `,"is_typing":true}`,
		`{"type":"delivered","chat_id":` + itoa(g.ID) + `,"seq":1}`,
		`{"type":"read","chat_id":` + itoa(g.ID) + `,"seq":1}`,
		`{"type":"presence","status":"away"}`,
		`{"type":"ping","unknown":[1,2,3]}`,
	} {
		c.writeRaw(websocket.TextMessage, []byte(f))
	}
	c.roundTrip()
	if n := c.count(isType("error")); n != errsBefore {
		t.Fatalf("valid frames got %d error frames:%s", n-errsBefore, c.describe())
	}

	// Exactly 64 KiB is a frame; one byte more closes with 1009.
	pad := func(size int) []byte {
		head := `{"type":"ping","pad":"`
		return []byte(head + strings.Repeat("x", size-len(head)-2) + `"}`)
	}
	pongs := c.count(isType("pong"))
	c.writeRaw(websocket.TextMessage, pad(ws.MaxFrameSize))
	c.waitCount("pong to a 64 KiB frame", isType("pong"), pongs+1)
	c.writeRaw(websocket.TextMessage, pad(ws.MaxFrameSize+1))
	if ce := c.waitClosed(); ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("closed with %d %q, want 1009", ce.Code, ce.Text)
	}
}

func TestSlowClientIsClosedAndOthersGetEverything(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	// Small kernel buffers on both sides, so the client that never reads
	// fills its queue after tens of kilobytes rather than megabytes.
	// A long write timeout: the blocked write must outlast a loaded machine.
	s := e.start(bus, serverOptions{Options: ws.Options{SendQueue: 16, WriteTimeout: time.Minute}, sndBuf: 16 << 10})
	us := e.users(3)
	alice, bob, slow := us[0], us[1], us[2]
	g := e.group(alice, bob, slow)
	ca := dial(t, s, alice, "alice", dialOptions{})
	cb := dial(t, s, bob, "bob", dialOptions{})
	cs := dial(t, s, slow, "slow", dialOptions{noRead: true, rcvBuf: 4 << 10})
	ca.hello()
	cb.hello()
	eventually(t, "three connections in the chat", func() bool { return s.gw.ChatConnections(g.ID) == 3 })

	// The readers keep up (each message is read before the next is sent);
	// the slow client's queue fills after some 50 KB.
	const n = 300
	content := strings.Repeat("words ", 300) // ~1.8 KB a frame: 540 KB in all
	for i := 1; i <= n; i++ {
		e.send(alice, g.ID, content)
		ca.waitCount("message", isType("message.created"), i)
		cb.waitCount("message", isType("message.created"), i)
	}
	for _, c := range []*client{ca, cb} {
		for i, f := range filter(c.snapshot(), isType("message.created")) {
			if !isCreated(g.ID, int64(i+1))(f) {
				t.Fatalf("%s: message #%d is %s, want seq %d", c.name, i+1, f.Data, i+1)
			}
		}
	}

	// Now read what the slow client was sent: some frames, then 1008.
	got := 0
	for {
		_ = cs.c.SetReadDeadline(time.Now().Add(waitLimit))
		_, _, err := cs.c.ReadMessage()
		if err == nil {
			got++
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok || ce.Code != websocket.ClosePolicyViolation || ce.Text == "" {
			t.Fatalf("slow client: read ended with %v after %d frames, want close 1008 with a reason", err, got)
		}
		break
	}
	if got >= n {
		t.Fatalf("slow client read %d frames, all of them: the queue never filled", got)
	}
	eventually(t, "the slow connection gone", func() bool { return s.gw.Stats().Connections == 2 })
	ca.roundTrip()
}

func filter(fs []frame, ok func(frame) bool) []frame {
	var out []frame
	for _, f := range fs {
		if ok(f) {
			out = append(out, f)
		}
	}
	return out
}

func TestReconnectHelloCarriesLastSeq(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	s := e.start(bus, serverOptions{})
	us := e.users(2)
	alice, bob := us[0], us[1]
	g := e.group(alice, bob)
	e.send(alice, g.ID, "before")

	cb := dial(t, s, bob, "bob", dialOptions{})
	if seq, _ := cb.hello().lastSeq(g.ID); seq != 1 {
		t.Fatalf("first hello: last_seq %d, want 1", seq)
	}
	e.send(alice, g.ID, "live")
	cb.waitFor("message 2", isCreated(g.ID, 2))
	_ = cb.c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
	cb.waitClosed()
	eventually(t, "bob's connection gone", func() bool { return s.gw.Stats().Connections == 0 })

	for i := 0; i < 3; i++ {
		e.send(alice, g.ID, "while away")
	}
	cb2 := dial(t, s, bob, "bob again", dialOptions{})
	if seq, _ := cb2.hello().lastSeq(g.ID); seq != 5 {
		t.Fatalf("hello after reconnect: last_seq %d, want 5", seq)
	}
	e.send(alice, g.ID, "after")
	cb2.waitFor("message 6", isCreated(g.ID, 6))
}

func TestRevokedSessionClosesItsSocketsWith4001(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	s := e.start(bus, serverOptions{})
	bob := e.users(1)[0]
	bob2 := e.signIn(bob) // another session of the same user

	c1 := dial(t, s, bob, "session 1, device a", dialOptions{})
	c1b := dial(t, s, bob, "session 1, device b", dialOptions{})
	c2 := dial(t, s, bob2, "session 2", dialOptions{})
	for _, c := range []*client{c1, c1b, c2} {
		c.hello()
	}
	if err := e.app.Commands.Logout.Handle(context.Background(), command.Logout{Actor: bob.actor(), RefreshToken: bob.Refresh}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{c1, c1b} {
		if ce := c.waitClosed(); ce.Code != ws.CloseSessionRevoked {
			t.Fatalf("%s: closed with %d %q, want 4001", c.name, ce.Code, ce.Text)
		}
	}
	c2.roundTrip()
}

func TestHeartbeatClosesSilentClients(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	// Wide enough for a loaded machine: with 250 ms the live client
	// missed two pings now and then while the package's 1,000-connection
	// test ran beside it.
	const beat = time.Second
	s := e.start(bus, serverOptions{Options: ws.Options{HeartbeatInterval: beat}})
	us := e.users(2)
	live := dial(t, s, us[0], "answers pings", dialOptions{})
	start := time.Now() // the silent client's deadline runs from after this
	silent := dial(t, s, us[1], "ignores pings", dialOptions{noPong: true})
	if h := live.hello(); h.HeartbeatIntervalMs != beat.Milliseconds() {
		t.Fatalf("heartbeat_interval_ms %d", h.HeartbeatIntervalMs)
	}
	silent.hello()
	ce := silent.waitClosed()
	if took := time.Since(start); ce.Code != websocket.CloseGoingAway || took < 2*beat {
		t.Fatalf("silent client closed with %d %q after %s", ce.Code, ce.Text, took)
	}
	// Well past two intervals, the client that answers pings is open.
	eventually(t, "five heartbeats", func() bool { return time.Since(start) > 5*beat })
	live.roundTrip()
}

func TestCloseDrainsThenSends1001(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	s := e.start(bus, serverOptions{})
	us := e.users(2)
	g := e.group(us[0], us[1])
	c := dial(t, s, us[1], "bob", dialOptions{})
	c.hello()
	e.send(us[0], g.ID, "last words")
	c.waitFor("message", isCreated(g.ID, 1))

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := s.gw.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if ce := c.waitClosed(); ce.Code != websocket.CloseGoingAway {
		t.Fatalf("closed with %d %q, want 1001", ce.Code, ce.Text)
	}
	if st := s.gw.Stats(); st != (ws.Stats{}) {
		t.Fatalf("after Close: %+v", st)
	}
	_, resp, err := dialRaw(s, us[0].Token, dialOptions{})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Close: %v, %v; want 503", resp, err)
	}
}

func TestChatEventsFollowMembership(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	s := e.start(bus, serverOptions{})
	us := e.users(4)
	alice, bob, carol, dave := us[0], us[1], us[2], us[3]
	ca := dial(t, s, alice, "alice", dialOptions{})
	cc := dial(t, s, carol, "carol", dialOptions{})
	cd := dial(t, s, dave, "dave", dialOptions{})
	for _, c := range []*client{ca, cc, cd} {
		c.hello()
	}
	if st := s.gw.Stats(); st.Users != 3 || st.ChatSubscriptions != 0 {
		t.Fatalf("stats %+v", st)
	}

	// A chat created after connecting reaches its members (user-scoped).
	g := e.group(alice, bob, carol)
	ca.waitFor("chat.created", func(f frame) bool { return f.Type == "chat.created" && f.chatOf() == g.ID })
	cc.waitFor("chat.created", func(f frame) bool { return f.Type == "chat.created" && f.chatOf() == g.ID })
	e.send(alice, g.ID, "one")
	cc.waitFor("message 1", isCreated(g.ID, 1))

	if _, err := e.app.Commands.UpdateChat.Handle(context.Background(), command.UpdateChat{Actor: alice.actor(), ChatID: g.ID, Name: ptr("renamed")}); err != nil {
		t.Fatal(err)
	}
	cc.waitFor("chat.updated", func(f frame) bool { return f.Type == "chat.updated" && strings.Contains(string(f.Data), "renamed") })

	// Dave joins: he sees his addition and what follows.
	if _, err := e.app.Commands.AddMembers.Handle(context.Background(), command.AddMembers{Actor: alice.actor(), ChatID: g.ID, UserIDs: []int64{dave.ID}}); err != nil {
		t.Fatal(err)
	}
	cd.waitFor("dave added", isMemberEvent("chat.member_added", g.ID, dave.ID))
	ca.waitFor("dave added, at alice", isMemberEvent("chat.member_added", g.ID, dave.ID))
	e.send(alice, g.ID, "two")
	cd.waitFor("message 2 at dave", isCreated(g.ID, 2))

	// Carol leaves: she sees it, then nothing more of the chat.
	if err := e.app.Commands.RemoveMember.Handle(context.Background(), command.RemoveMember{Actor: carol.actor(), ChatID: g.ID, UserID: carol.ID}); err != nil {
		t.Fatal(err)
	}
	cc.waitFor("carol removed", isMemberEvent("chat.member_removed", g.ID, carol.ID))
	e.send(alice, g.ID, "three")
	cd.waitFor("message 3 at dave", isCreated(g.ID, 3))
	// The marker chat is new: carol's instance follows it from the moment
	// she is told of it.
	marker := e.group(bob, carol)
	cc.waitFor("the marker chat", func(f frame) bool { return f.Type == "chat.created" && f.chatOf() == marker.ID })
	e.send(bob, marker.ID, "marker")
	cc.waitFor("the marker", isCreated(marker.ID, 1))
	if cc.count(isCreated(g.ID, 3)) != 0 {
		t.Fatalf("carol got a message after leaving:%s", cc.describe())
	}

	// Deleting the chat tells the members and ends its subscription.
	if err := e.app.Commands.DeleteChat.Handle(context.Background(), command.DeleteChat{Actor: alice.actor(), ChatID: g.ID}); err != nil {
		t.Fatal(err)
	}
	ca.waitFor("chat.deleted", func(f frame) bool { return f.Type == "chat.deleted" && f.chatOf() == g.ID })
	cd.waitFor("chat.deleted", func(f frame) bool { return f.Type == "chat.deleted" && f.chatOf() == g.ID })
	eventually(t, "only the marker chat followed", func() bool { return s.gw.Stats().ChatSubscriptions == 1 })

	// Every frame of a chat came once.
	for _, c := range []*client{ca, cd} {
		seen := map[string]bool{}
		for _, f := range c.snapshot() {
			if f.Type == "pong" {
				continue
			}
			k := f.Type + string(f.Data)
			if seen[k] {
				t.Fatalf("%s got %s %s twice", c.name, f.Type, f.Data)
			}
			seen[k] = true
		}
	}

	for _, c := range []*client{ca, cc, cd} {
		_ = c.c.Close()
	}
	// The instance keeps its one bus subscription; the index is empty.
	eventually(t, "no rooms left", func() bool { return s.gw.Stats() == ws.Stats{BusSubscriptions: 1} })
}

func ptr[T any](v T) *T { return &v }

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// downBus is an event bus that cannot subscribe.
type downBus struct{}

func (downBus) SubscribeChat(context.Context, int64, func(ports.Event)) (ports.Subscription, error) {
	return nil, errs.New(errs.Unavailable, "bus down")
}

func (downBus) SubscribeUser(context.Context, int64, func(ports.Event)) (ports.Subscription, error) {
	return nil, errs.New(errs.Unavailable, "bus down")
}

func (downBus) SubscribeAll(context.Context, func(ports.Event)) (ports.Subscription, error) {
	return nil, errs.New(errs.Unavailable, "bus down")
}

func TestBusDownClosesWithTryAgainLater(t *testing.T) {
	t.Parallel()
	e, _ := newMemEnv(t, memapp.Options{})
	s := e.start(downBus{}, serverOptions{})
	c := dial(t, s, e.users(1)[0], "alice", dialOptions{})
	if ce := c.waitClosed(); ce.Code != ws.CloseTryAgainLater {
		t.Fatalf("closed with %d %q, want 1013", ce.Code, ce.Text)
	}
	if n := len(c.snapshot()); n != 0 {
		t.Fatalf("got %d frames before the close", n)
	}
	eventually(t, "nothing left", func() bool { return s.gw.Stats() == ws.Stats{} })
}
