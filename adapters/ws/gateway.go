package ws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fasthttp/websocket"
	fiberws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// Path is the route Mount adds.
const Path = "/api/v1/ws"

// MaxFrameSize is the largest client frame read (API.md: 64 KiB); a larger
// one closes the connection with 1009.
const MaxFrameSize = 64 * 1024

// MaxPlatformLength bounds ?platform= (characters).
const MaxPlatformLength = 32

// Close codes besides RFC 6455's. Standard ones used: 1001 (shutdown,
// heartbeat timeout), 1008 (slow consumer: the client does not read),
// 1009 (frame too big).
const (
	// CloseSessionRevoked: the session was logged out or its refresh-token
	// family revoked.
	CloseSessionRevoked = 4001
	// CloseTryAgainLater (RFC 6455's 1013): the event bus is unavailable;
	// reconnect later and catch up by seq.
	CloseTryAgainLater = 1013
	// CloseInternalError (1011): the connection could not be set up.
	CloseInternalError = 1011
)

// Options tune the gateway; zero values take the defaults.
type Options struct {
	// HeartbeatInterval between WebSocket pings; a client silent for two
	// intervals is closed. Default 25s.
	HeartbeatInterval time.Duration
	// SendQueue is how many frames may wait for a slow client before its
	// connection is closed with 1008. Default 256.
	SendQueue int
	// MaxUnreadBytes is how many frame bytes a client may be behind,
	// queued here or written but not yet read by it (wherever they wait:
	// socket buffers count); how far it has read is learnt from its
	// pongs. Beyond it, a client that has confirmed nothing for
	// StallTimeout is closed with 1008 (at 8 times it, any client).
	// Default 256 KiB.
	MaxUnreadBytes int
	// StallTimeout: how long a client more than MaxUnreadBytes behind may
	// go without confirming any of it. Default 5s.
	StallTimeout time.Duration
	// ProbeBytes: once this many frame bytes are unconfirmed a ping asks
	// the client how far it has read. Default 16 KiB.
	ProbeBytes int
	// WriteTimeout bounds one write to a client. Default 10s.
	WriteTimeout time.Duration
	// CloseGrace is how long a closing connection waits for the client's
	// close frame before dropping the socket. Default 2s.
	CloseGrace time.Duration
	// CommandTimeout bounds the handling of one frame and the hello set-up.
	// Default 10s.
	CommandTimeout time.Duration
	// Origins allowed to connect (the Origin header); empty allows any,
	// which is fine while auth is a bearer token, not a cookie.
	Origins []string
	// Observer counts deliveries and slow-consumer closes (metrics);
	// nil counts nothing.
	Observer Observer
}

// Observer is told of event frames queued to connections and of
// connections closed because they did not read.
type Observer interface {
	Delivered(n int)
	SlowConsumerClosed()
}

type nopObserver struct{}

func (nopObserver) Delivered(int)       {}
func (nopObserver) SlowConsumerClosed() {}

func (o Options) withDefaults() Options {
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 25 * time.Second
	}
	if o.SendQueue <= 0 {
		o.SendQueue = 256
	}
	if o.MaxUnreadBytes <= 0 {
		o.MaxUnreadBytes = 256 << 10
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 5 * time.Second
	}
	if o.ProbeBytes <= 0 {
		o.ProbeBytes = 16 << 10
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.CloseGrace <= 0 {
		o.CloseGrace = 2 * time.Second
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 10 * time.Second
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	return o
}

// Gateway is the WebSocket adapter: it upgrades and authenticates
// connections, calls the application for their frames and fans out bus
// events to them.
type Gateway struct {
	app    application.App
	tokens ports.TokenIssuer
	log    *zap.Logger
	opts   Options
	hub    *hub

	upgrader fiber.Handler
	ctx      context.Context // parent of frame handling; canceled when Close gives up
	cancel   context.CancelFunc

	mu      sync.Mutex
	conns   map[*conn]struct{}
	closing bool
	wg      sync.WaitGroup // one per registered connection

	connIDs atomic.Uint64 // numbers connections for presence
}

// NewGateway builds the gateway. sub delivers the events of the chats and
// users with local connections. It panics on a nil dependency: a wiring bug.
func NewGateway(app application.App, tokens ports.TokenIssuer, sub ports.EventSubscriber, log *zap.Logger, opts Options) *Gateway {
	if tokens == nil || sub == nil {
		panic("ws: NewGateway needs a TokenIssuer and an EventSubscriber")
	}
	if log == nil {
		log = zap.NewNop()
	}
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{app: app, tokens: tokens, log: log, opts: opts,
		hub: newHub(sub, log, opts.CommandTimeout, opts.Observer), ctx: ctx, cancel: cancel,
		conns: make(map[*conn]struct{})}
	g.upgrader = fiberws.New(g.serve, fiberws.Config{
		Origins: opts.Origins,
		// An idle connection keeps its read buffer (fasthttp's 4 KiB one
		// sits under it): a small one. Write buffers only while writing.
		ReadBufferSize:  readBufferSize,
		WriteBufferPool: &sync.Pool{},
		RecoverHandler: func(*fiberws.Conn) {
			if p := recover(); p != nil {
				log.Error("websocket: panic in connection", zap.Any("panic", p), zap.Stack("stack"))
			}
		},
	})
	return g
}

// Mount adds GET /api/v1/ws (Path) to r, the root router.
func (g *Gateway) Mount(r fiber.Router) {
	r.Get(Path, g.handshake, g.upgrade)
}

// Stats describe the gateway's local connections.
type Stats struct {
	Connections       int // open WebSockets
	Users             int // distinct users connected (routing index)
	ChatSubscriptions int // chats with local connections (routing index; no bus subscription each)
	BusSubscriptions  int // event bus subscriptions: 1 once a connection came, whatever the count
}

// Stats returns the current counts.
func (g *Gateway) Stats() Stats {
	g.mu.Lock()
	n := len(g.conns)
	g.mu.Unlock()
	users, chats := g.hub.stats()
	st := Stats{Connections: n, Users: users, ChatSubscriptions: chats}
	g.hub.subMu.Lock()
	if g.hub.sub != nil {
		st.BusSubscriptions = 1
	}
	g.hub.subMu.Unlock()
	return st
}

// Close stops accepting connections and closes every open one with 1001
// once the frame it is handling is answered and its queued frames are
// sent. If ctx ends first the remaining sockets are dropped and frame
// handling is canceled; Close then returns ctx's error. Call it before
// shutting the HTTP server down: hijacked WebSockets do not hold that up.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	if !g.closing {
		g.closing = true
		for c := range g.conns {
			c.shutdown()
		}
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	defer g.hub.close()
	select {
	case <-done:
		g.cancel()
		return nil
	case <-ctx.Done():
	}
	g.cancel()
	g.mu.Lock()
	for c := range g.conns {
		c.abort()
	}
	g.mu.Unlock()
	<-done
	return ctx.Err()
}

func (g *Gateway) isClosing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closing
}

const (
	localActor    = "fechatter.ws.actor"
	localPlatform = "fechatter.ws.platform"
)

// handshake authenticates the request before the upgrade, answering
// failures in the REST error shape.
func (g *Gateway) handshake(c *fiber.Ctx) error {
	if g.isClosing() {
		return reject(c, fiber.StatusServiceUnavailable, errs.Unavailable, "server is shutting down")
	}
	token := ""
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		t, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return reject(c, fiber.StatusUnauthorized, errs.Unauthenticated, "Authorization must be Bearer <access_token>")
		}
		token = strings.TrimSpace(t)
	} else {
		token = strings.TrimSpace(c.Query("access_token"))
	}
	if token == "" {
		return reject(c, fiber.StatusUnauthorized, errs.Unauthenticated,
			"missing access token: send Authorization: Bearer <access_token> or ?access_token=")
	}
	claims, err := g.tokens.Verify(token)
	if err != nil {
		msg := "invalid access token"
		var de *errs.Error
		if errors.As(err, &de) && de.Kind == errs.Unauthenticated {
			msg = de.Message
		}
		return reject(c, fiber.StatusUnauthorized, errs.Unauthenticated, msg)
	}
	platform, err := parsePlatform(c.Query("platform"))
	if err != nil {
		return reject(c, fiber.StatusBadRequest, errs.Invalid, err.Error())
	}
	if !fiberws.IsWebSocketUpgrade(c) {
		c.Set(fiber.HeaderUpgrade, "websocket")
		return reject(c, fiber.StatusUpgradeRequired, errs.Invalid,
			"this endpoint speaks WebSocket only: send a GET with Connection: Upgrade and Upgrade: websocket")
	}
	c.Locals(localActor, command.Actor{UserID: claims.UserID, WorkspaceID: claims.WorkspaceID, SessionID: claims.SessionID})
	c.Locals(localPlatform, platform)
	return c.Next()
}

// readBufferSize is the WebSocket reader's buffer (the library's minimum
// is 125, a control frame's payload).
const readBufferSize = 256

// upgradeHeaders are the request headers the WebSocket handshake reads.
var upgradeHeaders = map[string]bool{"Host": true, "Connection": true, "Upgrade": true, "Origin": true,
	"Sec-Websocket-Key": true, "Sec-Websocket-Version": true, "Sec-Websocket-Extensions": true, "Sec-Websocket-Protocol": true}

// upgrade runs the WebSocket handshake; a malformed one (bad version or
// key) is answered in the REST error shape too. The request is trimmed to
// what the handshake reads first: the upgrader copies every header, query
// argument and cookie into maps the connection keeps for its life.
func (g *Gateway) upgrade(c *fiber.Ctx) error {
	h := &c.Request().Header
	var drop []string
	h.VisitAll(func(k, _ []byte) {
		if !upgradeHeaders[string(k)] {
			drop = append(drop, string(k))
		}
	})
	for _, k := range drop {
		h.Del(k)
	}
	h.DelAllCookies()
	c.Request().URI().QueryArgs().Reset()
	if err := g.upgrader(c); err != nil {
		if c.Response().StatusCode() == fiber.StatusForbidden {
			return reject(c, fiber.StatusForbidden, errs.Forbidden, "origin not allowed")
		}
		return reject(c, fiber.StatusBadRequest, errs.Invalid,
			"bad WebSocket handshake: check Sec-WebSocket-Key and Sec-WebSocket-Version: 13")
	}
	return nil
}

// parsePlatform checks the client's free-text platform name.
func parsePlatform(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return "unknown", nil
	}
	if utf8.RuneCountInString(p) > MaxPlatformLength || strings.ContainsFunc(p, unicode.IsControl) {
		return "", errs.Invalidf("platform must be at most %d printable characters", MaxPlatformLength)
	}
	return p, nil
}

// register adds a new connection unless the gateway is closing.
func (g *Gateway) register(c *conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.conns[c] = struct{}{}
	g.wg.Add(1)
	return true
}

func (g *Gateway) unregister(c *conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
	g.wg.Done()
}

// serve runs one upgraded connection on the goroutine fasthttp gave it,
// which is its reader; the socket is closed and recycled when it returns,
// so it returns only after the writer is done with it.
func (g *Gateway) serve(fc *fiberws.Conn) {
	actor, _ := fc.Locals(localActor).(command.Actor)
	platform, _ := fc.Locals(localPlatform).(string)
	c := newConn(g, fc.Conn, actor, platform)
	if !g.register(c) {
		_ = fc.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"),
			time.Now().Add(g.opts.WriteTimeout))
		return
	}
	defer g.unregister(c)
	// Fields per call, not a logger With them: that one would hold an
	// encoded buffer for the connection's life.
	g.log.Debug("websocket connected", zap.Int64("user_id", actor.UserID), zap.String("platform", platform))

	defer func() {
		// Also after a panic: the writer must be done with the socket
		// before serve returns it, and the hub must forget c.
		c.kill(CloseInternalError, "internal error", false) // no-op once closing
		g.hub.detach(c)
		c.presenceDisconnected() // presence.go
		<-c.writerDone
		c.mu.Lock()
		code, reason := c.code, c.reason
		c.mu.Unlock()
		g.log.Debug("websocket closed", zap.Int64("user_id", actor.UserID), zap.String("platform", platform),
			zap.Int("code", code), zap.String("reason", reason))
	}()
	// Set-up runs on a goroutine of its own: its deep calls (queries,
	// presence) would grow this one's stack, which an idle connection
	// then keeps while it waits for frames.
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				g.log.Error("websocket: panic setting up a connection", zap.Any("panic", p), zap.Stack("stack"))
				c.kill(CloseInternalError, "internal error", false)
			}
		}()
		if hello, err := c.setup(); err != nil {
			code := CloseInternalError
			if errs.Is(err, errs.Unavailable) {
				code = CloseTryAgainLater
			}
			g.log.Warn("websocket set-up failed", zap.Int64("user_id", actor.UserID), zap.Error(err))
			c.kill(code, "could not set up the connection", false)
		} else {
			c.startTimer()
			c.sendHello(hello)
			c.presenceConnected() // presence.go
		}
	}()
	<-done
	c.readLoop()
}

// setup follows the connection's user and chats on the bus, then reads the
// chats' last_seq for hello. Following first means nothing committed after
// the read is missed; an event at or below last_seq may arrive too, and
// clients deduplicate by (chat_id, seq).
func (c *conn) setup() (hello []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic setting up a connection: %v", p)
		}
	}()
	ctx, cancel := context.WithTimeout(c.g.ctx, c.g.opts.CommandTimeout)
	defer cancel()
	// The user first: a chat created or joined from now on is announced
	// on the user's subject.
	m, err := c.g.hub.attachUser(ctx, c)
	if err != nil {
		return nil, err
	}
	before, err := c.g.app.Queries.ChatPositions.Handle(ctx, c.viewer())
	if err != nil {
		return nil, err
	}
	if err := c.g.hub.joinChats(ctx, c, chatIDs(before)); err != nil {
		return nil, err
	}
	chats := before
	if !c.g.hub.changedSince(c, m) {
		// No membership event of the user and no chat deletion came in
		// between (the usual case): the list holds. One query less per
		// connection, the set-up's main cost.
		c.g.hub.setMembers(chats)
		return c.helloFrame(chats)
	}
	chats, err = c.g.app.Queries.ChatPositions.Handle(ctx, c.viewer())
	if err != nil {
		return nil, err
	}
	// Membership may have changed in between. Chats left since the first
	// list are left here. Chats joined since were joined after attachUser,
	// so their user-scoped events bring this connection in (subscribing
	// before showing the event); joining them here could undo a removal
	// that follows.
	now := chatIDs(chats)
	var gone []int64
	for _, id := range chatIDs(before) {
		if !slices.Contains(now, id) {
			gone = append(gone, id)
		}
	}
	c.g.hub.leaveChats(c, gone)
	c.g.hub.setMembers(chats)
	return c.helloFrame(chats)
}

func (c *conn) helloFrame(chats []query.ChatPosition) ([]byte, error) {
	data := helloData{UserID: c.actor.UserID, SessionID: c.actor.SessionID,
		HeartbeatIntervalMs: c.g.opts.HeartbeatInterval.Milliseconds(), Chats: make([]helloChat, len(chats))}
	for i, s := range chats {
		data.Chats[i] = helloChat{ChatID: s.ChatID, LastSeq: s.LastSeq}
	}
	return encodeFrame(frameHello, data)
}

func chatIDs(chats []query.ChatPosition) []int64 {
	ids := make([]int64, len(chats))
	for i, s := range chats {
		ids[i] = s.ChatID
	}
	return ids
}
