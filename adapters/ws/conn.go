package ws

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/application/command"
)

var errAborted = errors.New("connection aborted")

// hardUnreadFactor: a client this many times MaxUnreadBytes behind is
// closed even while it still makes progress.
const hardUnreadFactor = 8

// Why a connection that does not read is closed (1008).
const (
	reasonQueueFull  = "slow consumer: send queue full"
	reasonUnread     = "slow consumer: too many bytes unread"
	reasonReadStalls = "slow consumer: stopped reading"
)

// conn is one client connection. Its reader runs on the goroutine the
// upgrade gave us (frames are handled one at a time, in order). An idle
// connection has no other goroutine: a writer runs only while frames, a
// ping or the close wait to be sent (started by whoever queues them), and
// one timer per connection schedules its pings and its stall check.
//
// How far behind the client is: each ping's payload is the count of frame
// bytes written before it, and the client's pong echoes it once it has
// read that far (pongs come in order with the frames). Frame bytes queued
// or written but not confirmed so are unread, wherever they wait (queue,
// socket buffers). A client more than MaxUnreadBytes behind that has
// confirmed nothing for StallTimeout (while its reader was idle) is closed
// with 1008; one that still makes progress only at 8 times the bound, so
// a burst to a client that reads late does not close it.
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
	// userUpdates is a hash of the last user.updated frame sent, by the
	// user it is about (hub.deliverUserUpdateLocked); nil until the first.
	userUpdates map[int64]uint64

	mu      sync.Mutex
	queue   [][]byte
	queued  int   // bytes in queue
	written int64 // frame bytes written to the socket
	read    int64 // frame bytes the client confirmed reading (pong)
	probe   int64 // written when the unanswered ping went out; 0: none
	probeAt time.Time
	stallAt time.Time // when an unanswered probe means a stall; zero: none
	// progressAt is when the client last confirmed reading more, or was
	// last caught up.
	progressAt time.Time
	pingAt     time.Time // next heartbeat ping
	fireAt     time.Time // when timer fires next
	timer      *time.Timer
	hello      []byte // the first frame, not counted in written
	ready      bool   // hello is set: the writer may start
	writing    bool   // a writer runs; stays set once the close is done
	pingDue    bool
	pong       []byte // the payload of the client's latest ping, to answer
	pongDue    bool
	closing    bool // no more frames are queued
	code       int  // close code and reason, once closing
	reason     string
	drain      bool // send what is queued before the close frame

	writerDone chan struct{} // closed once the writer finished the close
	readerDone chan struct{}
	killed     atomic.Bool // closing, read without the lock by the writer
	busy       atomic.Bool // the reader is handling a frame (pongs wait)
	stopping   atomic.Bool // the gateway is shutting down
	aborted    atomic.Bool // the socket is being dropped
}

func newConn(g *Gateway, ws *websocket.Conn, actor command.Actor, platform string) *conn {
	return &conn{g: g, ws: ws, actor: actor, platform: platform,
		chats:      make(map[int64]*room),
		writerDone: make(chan struct{}), readerDone: make(chan struct{})}
}

// send queues a reply or an event frame without waiting. A client too far
// behind is closed with 1008 rather than slowing the sender (the event
// fan-out, or its own reader).
func (c *conn) send(frame []byte) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	now := time.Now()
	if c.queued == 0 && c.written == c.read {
		c.progressAt = now // caught up until this frame
	}
	unread := int64(c.queued+len(frame)) + c.written - c.read
	reason := ""
	switch {
	case len(c.queue) >= c.g.opts.SendQueue:
		reason = reasonQueueFull
	case unread > hardUnreadFactor*int64(c.g.opts.MaxUnreadBytes):
		reason = reasonUnread
	case unread > int64(c.g.opts.MaxUnreadBytes) && now.Sub(c.progressAt) >= c.g.opts.StallTimeout:
		// Far behind and no progress for StallTimeout: a client that
		// reads, however late, confirms some every round trip.
		reason = reasonUnread
	}
	if reason != "" {
		c.mu.Unlock()
		c.slowConsumer(reason)
		return false
	}
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
	return true
}

// sendHello sends hello ahead of every frame queued so far, which wait
// for it. Its bytes do not count as unread: a user of many chats has a
// large hello.
func (c *conn) sendHello(frame []byte) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.hello, c.ready = frame, true
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// startWriterLocked reports whether the caller must start the writer:
// none runs, and hello is out or the connection closes.
func (c *conn) startWriterLocked() bool {
	if c.writing || !(c.ready || c.closing) {
		return false
	}
	c.writing = true
	return true
}

// slowConsumer closes a connection that does not read with 1008. A
// write in progress keeps its deadline (WriteTimeout): should the client
// read meanwhile, the close frame follows it.
func (c *conn) slowConsumer(reason string) {
	if c.kill(websocket.ClosePolicyViolation, reason, false) {
		c.g.opts.Observer.SlowConsumerClosed()
		c.g.log.Info("websocket closed: slow consumer", zap.Int64("user_id", c.actor.UserID), zap.String("reason", reason))
	}
}

// kill starts closing the connection with a close code and reason; with
// drain, the frames already queued go out first. The first call wins (and
// gets true). It never blocks: the writer sends the close frame.
func (c *conn) kill(code int, reason string, drain bool) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	c.closing, c.code, c.reason, c.drain = true, code, reason, drain
	c.killed.Store(true)
	if !drain {
		c.queue, c.queued = nil, 0
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
	return true
}

// startTimer starts the heartbeat: a ping every HeartbeatInterval.
func (c *conn) startTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.pingAt = time.Now().Add(c.g.opts.HeartbeatInterval)
	c.fireAt = c.pingAt
	if !c.stallAt.IsZero() && c.stallAt.Before(c.fireAt) {
		c.fireAt = c.stallAt // a probe went out first
	}
	c.timer = time.AfterFunc(time.Until(c.fireAt), c.onTimer)
}

// armLocked makes the timer fire by at.
func (c *conn) armLocked(at time.Time) {
	if c.timer == nil || c.closing || (!c.fireAt.IsZero() && !at.Before(c.fireAt)) {
		return
	}
	c.fireAt = at
	c.timer.Reset(time.Until(at))
}

// onTimer sends the heartbeat ping when due and closes a connection whose
// client stalled. It runs on a goroutine of its own, which becomes the
// writer if one is needed.
func (c *conn) onTimer() {
	now := time.Now()
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if !c.stallAt.IsZero() && !now.Before(c.stallAt) {
		behind := int64(c.queued)+c.written-c.read > int64(c.g.opts.MaxUnreadBytes)
		switch {
		case c.busy.Load():
			// The reader is busy with a frame (a send waiting on the
			// database, say) and reads no pong meanwhile: look again.
			c.stallAt = now.Add(c.g.opts.StallTimeout / 4)
		case behind:
			c.mu.Unlock()
			c.slowConsumer(reasonReadStalls)
			return
		default:
			// Not far behind: sends check again as frames come, the
			// heartbeat deadline catches a client that is gone.
			c.stallAt = time.Time{}
		}
	}
	if !now.Before(c.pingAt) {
		c.pingDue = true
		c.pingAt = now.Add(c.g.opts.HeartbeatInterval)
	}
	next := c.pingAt
	if !c.stallAt.IsZero() && c.stallAt.Before(next) {
		next = c.stallAt
	}
	c.fireAt = next
	c.timer.Reset(next.Sub(now))
	start := c.pingDue && c.startWriterLocked()
	c.mu.Unlock()
	if start {
		c.writeLoop()
	}
}

// onPong notes how far the client has read: the pong of one of our pings
// echoes the frame bytes written before it.
func (c *conn) onPong(data string) {
	n, err := strconv.ParseInt(data, 10, 64)
	c.mu.Lock()
	if err != nil || n <= 0 {
		// A client that does not echo the payload (or a pong sent on its
		// own): it has read up to a ping at least, which counts as the
		// probe, else one that echoes nothing would pass for stalled.
		if c.probe != 0 {
			n = c.probe
		} else {
			c.mu.Unlock()
			return
		}
	}
	if n > c.read && n <= c.written {
		c.read, c.progressAt = n, time.Now()
	}
	if c.probe != 0 && n >= c.probe {
		c.probe, c.stallAt = 0, time.Time{}
	}
	c.mu.Unlock()
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

// writeLoop sends what waits (frames, then a ping) until nothing does and
// returns; once the connection is closing it sends the close frame and
// closes writerDone. Only one runs at a time (c.writing).
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			c.closeSocket()
			close(c.writerDone)
			return
		}
		if c.hello != nil {
			hello := c.hello
			c.hello = nil
			c.mu.Unlock()
			if c.write(hello, time.Now().Add(c.g.opts.WriteTimeout)) != nil {
				c.writeFailed()
				return
			}
			continue
		}
		if c.pongDue {
			pong := c.pong
			c.pong, c.pongDue = nil, false
			c.mu.Unlock()
			if c.aborted.Load() || c.ws.WriteControl(websocket.PongMessage, pong, time.Now().Add(c.g.opts.WriteTimeout)) != nil {
				c.writeFailed()
				return
			}
			continue
		}
		if len(c.queue) > 0 {
			batch := c.queue
			c.queue, c.queued = nil, 0
			c.mu.Unlock()
			if !c.flush(batch) {
				c.writeFailed()
				return
			}
			continue
		}
		var ping []byte
		if c.pingDue || (c.probe == 0 && c.written-c.read >= int64(c.g.opts.ProbeBytes)) {
			// A ping: the heartbeat, or a probe of how far the client
			// has read once enough is unconfirmed.
			c.pingDue = false
			ping = strconv.AppendInt(nil, c.written, 10)
			if c.probe == 0 && c.written > c.read {
				c.probe, c.probeAt = c.written, time.Now()
				c.stallAt = c.probeAt.Add(c.g.opts.StallTimeout)
				c.armLocked(c.stallAt)
			}
			c.mu.Unlock()
			if c.ws.WriteControl(websocket.PingMessage, ping, time.Now().Add(c.g.opts.WriteTimeout)) != nil {
				c.writeFailed()
				return
			}
			continue
		}
		c.writing = false
		c.mu.Unlock()
		return
	}
}

// writeFailed ends the connection after a failed write: the socket is
// broken or the client stopped reading for WriteTimeout. Nothing more can
// be said to it.
func (c *conn) writeFailed() {
	c.kill(websocket.CloseAbnormalClosure, "write failed", false)
	c.abort()
	close(c.writerDone)
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

// flush writes a batch of frames; false if a write failed. If the
// connection starts closing meanwhile it stops, and a draining close gets
// the rest back at the head of the queue.
func (c *conn) flush(batch [][]byte) bool {
	n := 0
	defer func() {
		c.mu.Lock()
		c.written += int64(n)
		c.mu.Unlock()
	}()
	bp := writeBufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 2*writeChunk { // not one grown by a huge frame
			*bp = (*bp)[:0]
			writeBufPool.Put(bp)
		}
	}()
	for len(batch) > 0 {
		if c.killed.Load() {
			c.requeue(batch)
			return true
		}
		// As many whole frames as fit in one write (at least one).
		buf, k, payload := (*bp)[:0], 0, 0
		for k < len(batch) && (k == 0 || len(buf)+maxFrameHeader+len(batch[k]) <= writeChunk) {
			buf = appendTextFrame(buf, batch[k])
			payload += len(batch[k])
			k++
		}
		*bp = buf
		if err := c.writeRaw(buf, time.Now().Add(c.g.opts.WriteTimeout)); err != nil {
			return false
		}
		n += payload
		batch = batch[k:]
	}
	return true
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

// write sends one text frame.
func (c *conn) write(frame []byte, deadline time.Time) error {
	return c.writeRaw(appendTextFrame(make([]byte, 0, maxFrameHeader+len(frame)), frame), deadline)
}

// writeRaw writes encoded frames to the socket in one call. The frames
// are encoded here rather than by the WebSocket library, whose writer
// makes one write (one system call) per message: a batch of frames for a
// connection goes out in one. Server frames are not masked, so a frame is
// a header and the payload as it is. The library's own writes (the pong
// its ping handler sends from the reader, a close it answers) can run
// meanwhile: each of its frames and each of ours is one Write on the
// socket, which Go's net package never interleaves, so the stream stays
// whole frames.
func (c *conn) writeRaw(frames []byte, deadline time.Time) error {
	nc := c.ws.NetConn()
	if err := nc.SetWriteDeadline(deadline); err != nil {
		return err
	}
	if c.aborted.Load() { // abort set its deadline before ours
		return errAborted
	}
	_, err := nc.Write(frames)
	return err
}

// writeChunk bounds one socket write of a batch of frames.
const writeChunk = 64 << 10

// maxFrameHeader is the longest header of a server frame (no mask).
const maxFrameHeader = 10

var writeBufPool = sync.Pool{New: func() any { b := make([]byte, 0, writeChunk); return &b }}

// appendTextFrame appends a final, unmasked text frame holding payload
// (RFC 6455 section 5.2).
func appendTextFrame(b, payload []byte) []byte {
	const finText = 0x80 | websocket.TextMessage
	switch n := len(payload); {
	case n <= 125:
		b = append(b, finText, byte(n))
	case n <= 0xffff:
		b = append(b, finText, 126, byte(n>>8), byte(n))
	default:
		b = append(b, finText, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// closeSocket ends a dying connection: the queued frames if it drains,
// the close frame, then a wait for the client's answer (the reader ends
// when it arrives) before the socket is closed, so the client reads the
// close frame rather than a reset.
func (c *conn) closeSocket() {
	c.mu.Lock()
	code, reason, drain, rest := c.code, c.reason, c.drain, c.queue
	c.queue, c.queued = nil, 0
	c.mu.Unlock()
	wait := c.g.opts.WriteTimeout
	if code == websocket.ClosePolicyViolation {
		wait = c.g.opts.CloseGrace // the client reads slowly, if at all
	}
	deadline := time.Now().Add(wait)
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
	c.ws.SetPongHandler(func(data string) error {
		c.extendReadDeadline()
		c.onPong(data)
		return nil
	})
	// The writer is the only goroutine that writes to the socket (it
	// writes frames it encodes itself, outside the library's lock): the
	// reader queues the pong for it, and leaves the answer to a close
	// frame to it too (readFailed kills the connection, the writer sends
	// the close frame after what it was writing and nothing after it).
	c.ws.SetPingHandler(func(data string) error {
		c.extendReadDeadline()
		c.queuePong(data)
		return nil
	})
	c.ws.SetCloseHandler(func(int, string) error { return nil })
	c.extendReadDeadline()
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.extendReadDeadline()
		c.busy.Store(true)
		c.handle(typ, data)
		c.busy.Store(false)
	}
}

// queuePong has the writer answer the client's ping (the latest one, if
// several wait: RFC 6455 allows answering only that).
func (c *conn) queuePong(data string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.pong, c.pongDue = []byte(data), true
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// readFailed closes the connection after the reader stopped.
func (c *conn) readFailed(err error) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		// The client closed: the writer answers with a close frame.
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
