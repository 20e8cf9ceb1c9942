package ws

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/application/command"
)

var errAborted = errors.New("connection aborted")

// maxSpare is the largest batch buffer a connection keeps between bursts.
const maxSpare = 32

// conn is one client connection. Its reader runs on the goroutine the
// upgrade gave us (frames are handled one at a time, in order); its writer
// is a second goroutine that drains the send queue and sends the pings.
type conn struct {
	g        *Gateway
	ws       *websocket.Conn
	actor    command.Actor
	platform string

	// presence is the connection's id in the instance's presence state,
	// set once the connection is set up (presence.go).
	presence string

	// Guarded by the hub's mutex.
	user  *room
	chats map[int64]*room

	mu      sync.Mutex
	queue   [][]byte
	spare   [][]byte // the writer's last batch, reused
	closing bool     // no more frames are queued
	code    int      // close code and reason, once closing
	reason  string
	drain   bool // send what is queued before the close frame

	wake       chan struct{} // a frame was queued
	dying      chan struct{} // closed by kill
	readerDone chan struct{}
	writerDone chan struct{}
	stopping   atomic.Bool // the gateway is shutting down
	aborted    atomic.Bool // the socket is being dropped
}

func newConn(g *Gateway, ws *websocket.Conn, actor command.Actor, platform string) *conn {
	return &conn{g: g, ws: ws, actor: actor, platform: platform,
		chats: make(map[int64]*room),
		wake:  make(chan struct{}, 1), dying: make(chan struct{}),
		readerDone: make(chan struct{}), writerDone: make(chan struct{})}
}

// send queues a frame without waiting. A full queue means the client does
// not read: the connection is closed with 1008 rather than slowing the
// sender, which is the event fan-out.
func (c *conn) send(frame []byte) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	if len(c.queue) >= c.g.opts.SendQueue {
		c.mu.Unlock()
		c.kill(websocket.ClosePolicyViolation, "send queue full: the client does not read its frames", false)
		return false
	}
	c.queue = append(c.queue, frame)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// sendFirst queues a frame ahead of everything queued so far (hello).
func (c *conn) sendFirst(frame []byte) {
	c.mu.Lock()
	if !c.closing {
		c.queue = append([][]byte{frame}, c.queue...)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// kill starts closing the connection with a close code and reason; with
// drain, the frames already queued go out first. The first call wins. It
// never blocks: the writer sends the close frame.
func (c *conn) kill(code int, reason string, drain bool) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing, c.code, c.reason, c.drain = true, code, reason, drain
	if !drain {
		c.queue = nil
	}
	c.mu.Unlock()
	close(c.dying)
}

// shutdown asks the connection to close with 1001 once the frame being
// handled (a message.send, say) is answered. It interrupts the reader with
// a deadline in the past; called under the gateway's mutex, while c is
// registered and so still owns its socket.
func (c *conn) shutdown() {
	c.stopping.Store(true)
	_ = c.ws.SetReadDeadline(time.Now())
}

// extendReadDeadline gives the client two heartbeat intervals to show it
// is alive (any frame, pong or ping).
func (c *conn) extendReadDeadline() {
	_ = c.ws.SetReadDeadline(time.Now().Add(2 * c.g.opts.HeartbeatInterval))
	if c.stopping.Load() || c.aborted.Load() { // they set their deadline before ours
		_ = c.ws.SetReadDeadline(time.Now())
	}
}

// writeLoop sends queued frames and pings until the connection dies, then
// the close frame.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	ping := time.NewTicker(c.g.opts.HeartbeatInterval)
	defer ping.Stop()
	ok := true
	for ok {
		select {
		case <-c.dying:
			c.closeSocket()
			return
		case <-c.wake:
			ok = c.flush()
		case <-ping.C:
			ok = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.g.opts.WriteTimeout)) == nil
		}
	}
	// A write failed: the socket is broken or the client stopped reading
	// for WriteTimeout. Nothing more can be said to it.
	c.kill(websocket.CloseAbnormalClosure, "write failed", false)
	c.abort()
}

// abort stops all I/O on the socket at once. Closing a hijacked socket is
// left to fasthttp once serve returns (Close is a no-op on it), so pending
// reads and writes are woken with a deadline in the past instead.
func (c *conn) abort() {
	c.aborted.Store(true)
	if nc := c.ws.NetConn(); nc != nil {
		_ = nc.SetDeadline(time.Now())
	}
	_ = c.ws.Close()
}

// flush writes the queued frames; false if a write failed.
func (c *conn) flush() bool {
	for {
		c.mu.Lock()
		if c.closing || len(c.queue) == 0 {
			c.mu.Unlock()
			return true
		}
		batch := c.queue
		c.queue, c.spare = c.spare, nil
		c.mu.Unlock()
		for i, f := range batch {
			if err := c.write(f, time.Now().Add(c.g.opts.WriteTimeout)); err != nil {
				return false
			}
			select {
			case <-c.dying:
				// closeSocket sends what is left if the close drains.
				c.requeue(batch[i+1:])
				return true
			default:
			}
		}
		clear(batch)
		if cap(batch) <= maxSpare {
			c.mu.Lock()
			c.spare = batch[:0]
			c.mu.Unlock()
		}
	}
}

// requeue puts unsent frames back at the head of the queue for a draining
// close.
func (c *conn) requeue(rest [][]byte) {
	c.mu.Lock()
	if c.drain && len(rest) > 0 {
		c.queue = append(append([][]byte(nil), rest...), c.queue...)
	}
	c.mu.Unlock()
}

func (c *conn) write(frame []byte, deadline time.Time) error {
	if err := c.ws.SetWriteDeadline(deadline); err != nil {
		return err
	}
	if c.aborted.Load() { // abort set its deadline before ours
		return errAborted
	}
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

// closeSocket ends a dying connection: the queued frames if it drains,
// the close frame, then a wait for the client's answer (the reader ends
// when it arrives) before the socket is closed, so the client reads the
// close frame rather than a reset.
func (c *conn) closeSocket() {
	c.mu.Lock()
	code, reason, drain, rest := c.code, c.reason, c.drain, c.queue
	c.queue = nil
	c.mu.Unlock()
	deadline := time.Now().Add(c.g.opts.WriteTimeout)
	if drain {
		for _, f := range rest {
			if c.write(f, deadline) != nil {
				break
			}
		}
	}
	if code != websocket.CloseAbnormalClosure {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline)
	}
	t := time.NewTimer(c.g.opts.CloseGrace)
	defer t.Stop()
	select {
	case <-c.readerDone:
	case <-t.C:
	}
	c.abort()
}

// readLoop handles the client's frames until the connection ends.
func (c *conn) readLoop() {
	defer close(c.readerDone)
	c.ws.SetReadLimit(MaxFrameSize)
	c.ws.SetPongHandler(func(string) error {
		c.extendReadDeadline()
		return nil
	})
	c.ws.SetPingHandler(func(data string) error {
		c.extendReadDeadline()
		err := c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.g.opts.WriteTimeout))
		var ne net.Error
		if errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) {
			return nil
		}
		return err
	})
	c.extendReadDeadline()
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.extendReadDeadline()
		c.handle(typ, data)
	}
}

// readFailed closes the connection after the reader stopped.
func (c *conn) readFailed(err error) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		// The client closed; the library answered its close frame.
		c.kill(websocket.CloseNormalClosure, "", false)
		return
	case errors.Is(err, websocket.ErrReadLimit):
		// The library has sent 1009 already.
		c.kill(websocket.CloseMessageTooBig, "frame larger than 64 KiB", false)
	case c.stopping.Load():
		c.kill(websocket.CloseGoingAway, "server shutting down", true)
	case errors.As(err, &ne) && ne.Timeout():
		c.kill(websocket.CloseGoingAway, "heartbeat timeout", false)
	default:
		c.g.log.Debug("websocket read failed", zap.Int64("user_id", c.actor.UserID), zap.Error(err))
		c.kill(websocket.CloseAbnormalClosure, "", false)
	}
	c.linger()
}

// linger reads and discards what the client still sends once the reader
// can no longer parse frames, until it closes or CloseGrace after the close
// frame went out: closing a socket with unread input would reset it and
// could destroy the close frame before the client reads it.
func (c *conn) linger() {
	nc := c.ws.NetConn()
	if nc == nil {
		return
	}
	// The writer closes the socket CloseGrace after its close frame, which
	// ends this read early; the deadline only bounds a stuck writer.
	_ = nc.SetReadDeadline(time.Now().Add(c.g.opts.WriteTimeout + c.g.opts.CloseGrace))
	if c.aborted.Load() { // abort set its deadline before ours
		return
	}
	_, _ = io.Copy(io.Discard, nc)
}
