package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/fechatter/fechatter/adapters/http/contract"
	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/adapters/ws"
	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

// waitLimit bounds every wait for a condition; nothing sleeps and hopes.
const waitLimit = 10 * time.Second

// env is the application on the memory adapters with an outbox relay
// publishing to a bus.
type env struct {
	t   *testing.T
	mem memapp.Env
	app application.App
}

// newEnv assembles the app and starts a relay from its outbox to pub.
func newEnv(t *testing.T, o memapp.Options, pub ports.EventPublisher) *env {
	t.Helper()
	mem := memapp.New(o)
	relay, err := event.NewOutboxRelay(mem.Store.Outbox(), pub, nil, event.RelayOptions{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = relay.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{t: t, mem: mem, app: mem.App}
}

// newMemEnv is newEnv on an in-process bus, returned as the subscriber.
func newMemEnv(t *testing.T, o memapp.Options) (*env, *memory.EventBus) {
	bus := memory.NewEventBus()
	return newEnv(t, o, bus), bus
}

// user is a signed-up user with an open session.
type user struct {
	ID, WorkspaceID int64
	Email           string
	Token, Refresh  string
	Session         string
}

func (u user) actor() command.Actor {
	return command.Actor{UserID: u.ID, WorkspaceID: u.WorkspaceID, SessionID: u.Session}
}

const password = "correct horse battery"

// users signs up n users of one new workspace.
func (e *env) users(n int) []user {
	e.t.Helper()
	ctx := context.Background()
	wsName := porttest.Unique("ws-")
	first := e.signUp(command.SignUp{Email: porttest.Unique("u") + "@example.com", Password: password,
		Fullname: "Owner", Workspace: wsName})
	out := []user{first}
	if n == 1 {
		return out
	}
	uses := n - 1
	inv, err := e.app.Commands.CreateInvite.Handle(ctx, command.CreateInvite{Actor: first.actor(), MaxUses: &uses})
	if err != nil {
		e.t.Fatalf("create invite: %v", err)
	}
	for i := 1; i < n; i++ {
		out = append(out, e.signUp(command.SignUp{Email: porttest.Unique("u") + "@example.com", Password: password,
			Fullname: fmt.Sprintf("User %d", i), Workspace: wsName, InviteCode: inv.Code}))
	}
	return out
}

func (e *env) signUp(cmd command.SignUp) user {
	e.t.Helper()
	res, err := e.app.Commands.SignUp.Handle(context.Background(), cmd)
	if err != nil {
		e.t.Fatalf("sign up: %v", err)
	}
	return e.userOf(res)
}

func (e *env) userOf(res command.AuthResult) user {
	e.t.Helper()
	claims, err := e.mem.Tokens.Verify(res.AccessToken)
	if err != nil {
		e.t.Fatalf("verify fresh token: %v", err)
	}
	return user{ID: res.User.ID, WorkspaceID: res.User.WorkspaceID, Email: res.User.Email,
		Token: res.AccessToken, Refresh: res.RefreshToken, Session: claims.SessionID}
}

// signIn opens a second session of u.
func (e *env) signIn(u user) user {
	e.t.Helper()
	res, err := e.app.Commands.SignIn.Handle(context.Background(), command.SignIn{Email: u.Email, Password: password, ClientIP: "127.0.0.1"})
	if err != nil {
		e.t.Fatalf("sign in: %v", err)
	}
	return e.userOf(res)
}

func (e *env) group(owner user, members ...user) query.Chat {
	e.t.Helper()
	ids := make([]int64, len(members))
	for i, m := range members {
		ids[i] = m.ID
	}
	c, _, err := e.app.Commands.CreateChat.Handle(context.Background(), command.CreateChat{Actor: owner.actor(),
		Type: "group", Name: porttest.Unique("group-"), MemberIDs: ids})
	if err != nil {
		e.t.Fatalf("create chat: %v", err)
	}
	return c
}

func (e *env) send(from user, chatID int64, content string) query.Message {
	e.t.Helper()
	m, _, err := e.app.Commands.SendMessage.Handle(context.Background(), command.SendMessage{Actor: from.actor(),
		ChatID: chatID, Content: content})
	if err != nil {
		e.t.Fatalf("send: %v", err)
	}
	return m
}

// server is one instance: a gateway on its own Fiber app and port.
type server struct {
	gw  *ws.Gateway
	url string // ws://127.0.0.1:port/api/v1/ws
}

// serverOptions tune a test server.
type serverOptions struct {
	ws.Options
	// sndBuf, if set, is the kernel send buffer of accepted sockets: small
	// buffers make a client that does not read fill its queue quickly.
	sndBuf int
}

func (e *env) start(sub ports.EventSubscriber, o serverOptions) *server {
	e.t.Helper()
	gw := ws.NewGateway(e.app, e.mem.Tokens, sub, testLogger(e.t), o.Options)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	gw.Mount(app)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	var l net.Listener = ln
	if o.sndBuf > 0 {
		l = sndBufListener{ln, o.sndBuf}
	}
	go func() { _ = app.Listener(l) }()
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := gw.Close(ctx); err != nil {
			e.t.Errorf("gateway close: %v", err)
		}
		_ = app.ShutdownWithContext(ctx)
	})
	return &server{gw: gw, url: "ws://" + ln.Addr().String() + ws.Path}
}

type sndBufListener struct {
	net.Listener
	size int
}

func (l sndBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}

// frame is a server frame as a client sees it.
type frame struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func (f frame) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(f.Data, v); err != nil {
		t.Fatalf("decode %s data %s: %v", f.Type, f.Data, err)
	}
}

// chatOf is the chat a frame is about, 0 if none.
func (f frame) chatOf() int64 {
	var d struct {
		ChatID int64 `json:"chat_id"`
		ID     int64 `json:"id"`
	}
	_ = json.Unmarshal(f.Data, &d)
	if strings.HasPrefix(f.Type, "chat.created") || f.Type == "chat.updated" {
		return d.ID
	}
	return d.ChatID
}

// client is a WebSocket client that records every frame it gets.
type client struct {
	t    *testing.T
	name string
	c    *websocket.Conn

	mu       sync.Mutex
	frames   []frame
	closeErr error
	changed  chan struct{}
	done     chan struct{}
}

type dialOptions struct {
	query   string // extra query, e.g. "platform=web"
	noToken bool
	rcvBuf  int  // kernel receive buffer of the client socket
	noRead  bool // do not start the reader (a client that never reads)
	noPong  bool // ignore the server's pings
	// emptyPong answers pings with an empty pong, as a client that does
	// not echo the payload (RFC 6455 says it must) would.
	emptyPong bool
}

// dial connects u and, unless noRead, reads until the connection ends.
func dial(t *testing.T, s *server, u user, name string, o dialOptions) *client {
	t.Helper()
	c, resp, err := dialRaw(s, u.Token, o)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("%s: dial: %v (status %d)", name, err, status)
	}
	cl := &client{t: t, name: name, c: c, changed: make(chan struct{}, 1), done: make(chan struct{})}
	if o.noPong {
		c.SetPingHandler(func(string) error { return nil })
	}
	if o.emptyPong {
		c.SetPingHandler(func(string) error {
			return c.WriteControl(websocket.PongMessage, nil, time.Now().Add(waitLimit))
		})
	}
	t.Cleanup(func() { _ = c.Close() })
	if !o.noRead {
		go cl.readLoop()
	}
	return cl
}

func dialRaw(s *server, token string, o dialOptions) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: waitLimit}
	if o.rcvBuf > 0 {
		d.NetDial = func(network, addr string) (net.Conn, error) {
			c, err := net.Dial(network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(o.rcvBuf)
			}
			return c, err
		}
	}
	h := http.Header{}
	if !o.noToken && token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	u := s.url
	if o.query != "" {
		u += "?" + o.query
	}
	return d.Dial(u, h)
}

func (c *client) readLoop() {
	defer close(c.done)
	defer c.c.Close() // after the close handshake, as clients do
	for {
		_, data, err := c.c.ReadMessage()
		if err == nil {
			// Every frame the server sends is checked against openapi.json.
			if cerr := contract.Default(c.t).ServerFrame(data); cerr != nil {
				c.t.Errorf("%s: contract: %v", c.name, cerr)
			}
		}
		c.mu.Lock()
		if err != nil {
			c.closeErr = err
		} else {
			var f frame
			if jerr := json.Unmarshal(data, &f); jerr != nil {
				f = frame{Type: "!undecodable", Data: json.RawMessage(fmt.Sprintf("%q", data))}
			}
			c.frames = append(c.frames, f)
		}
		c.mu.Unlock()
		select {
		case c.changed <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// snapshot returns the frames received so far.
func (c *client) snapshot() []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]frame(nil), c.frames...)
}

// waitFor returns the first frame matching ok, waiting for it.
func (c *client) waitFor(what string, ok func(frame) bool) frame {
	c.t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for _, f := range c.frames {
			if ok(f) {
				c.mu.Unlock()
				return f
			}
		}
		closeErr := c.closeErr
		c.mu.Unlock()
		if closeErr != nil {
			c.t.Fatalf("%s: connection ended (%v) while waiting for %s; got %s", c.name, closeErr, what, c.describe())
		}
		select {
		case <-c.changed:
		case <-deadline.C:
			c.t.Fatalf("%s: timed out waiting for %s; got %s", c.name, what, c.describe())
		}
	}
}

// waitClosed waits for the end of the connection and returns its close
// error.
func (c *client) waitClosed() *websocket.CloseError {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitLimit):
		c.t.Fatalf("%s: still open after %s; got %s", c.name, waitLimit, c.describe())
	}
	c.mu.Lock()
	err := c.closeErr
	c.mu.Unlock()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		c.t.Fatalf("%s: ended without a close frame: %v", c.name, err)
	}
	return ce
}

func (c *client) describe() string {
	var b strings.Builder
	for i, f := range c.snapshot() {
		if i == 40 {
			b.WriteString(" ...")
			break
		}
		fmt.Fprintf(&b, "\n  %s %s", f.Type, clipped(string(f.Data)))
	}
	return b.String()
}

func clipped(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func (c *client) write(v any) {
	c.t.Helper()
	if err := c.c.WriteJSON(v); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
}

func (c *client) writeRaw(typ int, b []byte) {
	c.t.Helper()
	if err := c.c.WriteMessage(typ, b); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
}

// hello waits for hello and returns its data.
func (c *client) hello() helloData {
	c.t.Helper()
	f := c.waitFor("hello", func(f frame) bool { return f.Type == "hello" })
	if first := c.snapshot()[0]; first.Type != "hello" {
		c.t.Fatalf("%s: first frame is %s, not hello", c.name, first.Type)
	}
	var h helloData
	f.decode(c.t, &h)
	return h
}

// helloData is the hello frame's data, with a look-up.
type helloData struct{ api.Hello }

func (h helloData) lastSeq(chatID int64) (int64, bool) {
	for _, c := range h.Chats {
		if c.ChatID == chatID {
			return c.LastSeq, true
		}
	}
	return 0, false
}

// roundTrip proves the connection is open and has handled every frame sent
// before it: frames are handled in order, so the pong to this ping comes
// after their answers.
func (c *client) roundTrip() {
	c.t.Helper()
	n := c.count(isType("pong"))
	c.write(map[string]any{"type": "ping"})
	c.waitCount(fmt.Sprintf("pong #%d", n+1), isType("pong"), n+1)
}

// waitCount waits until n frames match ok.
func (c *client) waitCount(what string, ok func(frame) bool, n int) {
	c.t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for c.count(ok) < n {
		c.mu.Lock()
		closeErr := c.closeErr
		c.mu.Unlock()
		if closeErr != nil {
			c.t.Fatalf("%s: connection ended (%v) while waiting for %s; got %s", c.name, closeErr, what, c.describe())
		}
		select {
		case <-c.changed:
		case <-deadline.C:
			c.t.Fatalf("%s: timed out waiting for %s; got %s", c.name, what, c.describe())
		}
	}
}

// Frame predicates.

func isMessage(typ string, chatID, seq int64) func(frame) bool {
	return func(f frame) bool {
		if f.Type != typ {
			return false
		}
		var m query.Message
		if json.Unmarshal(f.Data, &m) != nil {
			return false
		}
		return m.ChatID == chatID && m.Seq == seq
	}
}

func isCreated(chatID, seq int64) func(frame) bool {
	return isMessage("message.created", chatID, seq)
}

func isMemberEvent(typ string, chatID, userID int64) func(frame) bool {
	return func(f frame) bool {
		if f.Type != typ {
			return false
		}
		var m command.MemberEvent
		return json.Unmarshal(f.Data, &m) == nil && m.ChatID == chatID && m.UserID == userID
	}
}

func isType(typ string) func(frame) bool {
	return func(f frame) bool { return f.Type == typ }
}

func isAck(ref string) func(frame) bool {
	return func(f frame) bool {
		if f.Type != "ack" {
			return false
		}
		var a struct {
			Ref string `json:"ref"`
		}
		return json.Unmarshal(f.Data, &a) == nil && a.Ref == ref
	}
}

type errorData struct {
	Ref          json.RawMessage `json:"ref"`
	Code         string          `json:"code"`
	Message      string          `json:"message"`
	RetryAfterMs int64           `json:"retry_after_ms"`
}

// count returns how many frames match ok.
func (c *client) count(ok func(frame) bool) int {
	n := 0
	for _, f := range c.snapshot() {
		if ok(f) {
			n++
		}
	}
	return n
}

// never fails if any frame received so far is about chatID.
func (c *client) never(chatID int64, why string) {
	c.t.Helper()
	for _, f := range c.snapshot() {
		if f.chatOf() == chatID {
			c.t.Fatalf("%s got %s %s of chat %d: %s", c.name, f.Type, f.Data, chatID, why)
		}
	}
}

// eventually waits for cond, polling the gateway's state.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	porttest.Eventually(t, waitLimit, what, cond)
}

func testLogger(t *testing.T) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.DebugLevel))
}
