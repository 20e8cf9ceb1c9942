package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/fechatter/fechatter/api"
)

// Client frame types (the "type" of a frame the client sends).
const (
	framePing      = api.FramePing
	frameSend      = api.FrameSend
	frameTyping    = api.FrameTyping
	frameDelivered = api.FrameDelivered
	frameRead      = api.FrameRead
	framePresence  = api.FramePresence
)

// ErrClosed is returned by the calls of a Conn that has ended; Err says
// why it ended.
var ErrClosed = errors.New("client: websocket connection closed")

// DialOptions configure a WebSocket connection.
type DialOptions struct {
	// Platform is the free-text ?platform= (web, ios, cli, ...); default
	// "cli".
	Platform string
	// OnFrame, when set, is called on the connection's reader goroutine
	// for every server frame except hello and the acks and errors that
	// answer Send. Frames of one connection come in order; OnFrame must
	// return quickly, since the connection reads nothing meanwhile (a
	// client that does not read is closed by the server with 1008).
	// Without OnFrame the frames queue on Frames().
	OnFrame func(Frame)
	// HandshakeTimeout bounds the dial and the wait for hello; default 15s.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds one frame write; default 10s.
	WriteTimeout time.Duration
	// ReadBufferSize and WriteBufferSize are the socket buffers; default
	// 4096 and 1024 (keep them small for many idle connections).
	ReadBufferSize, WriteBufferSize int
}

// Conn is a WebSocket connection of one user. Its methods are safe for
// concurrent use.
type Conn struct {
	ws      *websocket.Conn
	hello   Hello
	opts    DialOptions
	onFrame func(Frame)
	frames  chan Frame
	wire    func(sent bool, frame []byte) // may be nil

	wmu         sync.Mutex    // one writer at a time
	readTimeout time.Duration // silence after which the server is gone

	mu      sync.Mutex
	pending map[string]chan sendResult
	err     error // why the connection ended
	ended   bool  // the reader stopped: no more answers

	refs    atomic.Uint64
	closing chan struct{} // Close was called
	once    sync.Once
	done    chan struct{} // the reader ended
}

type sendResult struct {
	msg    Message
	replay bool
	err    error
}

// Dial opens a WebSocket as the client's session and waits for hello.
// The access token goes in ?access_token=, as a browser would send it.
func (c *Client) Dial(ctx context.Context, o DialOptions) (*Conn, error) {
	if o.Platform == "" {
		o.Platform = "cli"
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 15 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = 4096
	}
	if o.WriteBufferSize <= 0 {
		o.WriteBufferSize = 1024
	}
	u, err := c.wsURL(o.Platform)
	if err != nil {
		return nil, err
	}
	d := websocket.Dialer{HandshakeTimeout: o.HandshakeTimeout,
		ReadBufferSize: o.ReadBufferSize, WriteBufferSize: o.WriteBufferSize}
	dctx, cancel := context.WithTimeout(ctx, o.HandshakeTimeout)
	defer cancel()
	ws, resp, err := d.DialContext(dctx, u, nil)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			return nil, decodeError(resp.StatusCode, resp.Header, body)
		}
		return nil, fmt.Errorf("client: websocket dial: %w", err)
	}
	k := &Conn{ws: ws, opts: o, onFrame: o.OnFrame, wire: c.wire,
		pending: make(map[string]chan sendResult),
		closing: make(chan struct{}), done: make(chan struct{})}
	if k.onFrame == nil {
		k.frames = make(chan Frame, 256)
	}
	deadline := time.Now().Add(o.HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = ws.SetReadDeadline(deadline)
	f, err := k.readFrame()
	if err == nil && f.Type != FrameHello {
		err = fmt.Errorf("client: first frame is %q, want hello: %s", f.Type, f.Data)
	}
	if err == nil {
		err = f.Decode(&k.hello)
	}
	if err != nil {
		_ = ws.Close()
		return nil, fmt.Errorf("client: websocket hello: %w", err)
	}
	if hb := time.Duration(k.hello.HeartbeatIntervalMs) * time.Millisecond; hb > 0 {
		// The server pings every heartbeat: two missed ones mean it is gone.
		k.readTimeout = 2*hb + 5*time.Second
	}
	ws.SetPingHandler(func(data string) error {
		k.extendRead()
		k.wmu.Lock()
		defer k.wmu.Unlock()
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(k.opts.WriteTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	k.extendRead()
	go k.readLoop()
	return k, nil
}

// extendRead gives the server until readTimeout to send something (a
// frame or a ping); none means no deadline.
func (k *Conn) extendRead() {
	if k.readTimeout > 0 {
		_ = k.ws.SetReadDeadline(time.Now().Add(k.readTimeout))
	} else {
		_ = k.ws.SetReadDeadline(time.Time{})
	}
}

func (c *Client) wsURL(platform string) (string, error) {
	u, err := url.Parse(c.base)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	u.Path = strings.TrimRight(u.Path, "/") + apiPrefix + "/ws"
	u.RawQuery = url.Values{"platform": {platform}, "access_token": {c.accessToken()}}.Encode()
	return u.String(), nil
}

// Hello is the connection's hello: the user, the session and each chat's
// last seq when it opened.
func (k *Conn) Hello() Hello { return k.hello }

// Frames delivers the server frames when DialOptions.OnFrame is not set;
// it is closed when the connection ends. Read it: a connection whose
// frames pile up stops reading the socket.
func (k *Conn) Frames() <-chan Frame { return k.frames }

// Done is closed when the connection has ended.
func (k *Conn) Done() <-chan struct{} { return k.done }

// Err is why the connection ended (a *websocket.CloseError carries the
// server's close code, see CloseCode); nil while it is open or after
// Close.
func (k *Conn) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

// CloseCode is the WebSocket close code in err (4001 for a revoked
// session, 1008 for a client that did not read, ...); 0 if none.
func CloseCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

// Send sends a message with message.send and waits for its ack. An error
// frame answering it is an *Error (rate_limited carries RetryAfter).
func (k *Conn) Send(ctx context.Context, chatID int64, m NewMessage) (msg Message, replay bool, err error) {
	ref := "r" + strconv.FormatUint(k.refs.Add(1), 36)
	ch := make(chan sendResult, 1)
	k.mu.Lock()
	if k.ended {
		k.mu.Unlock()
		return Message{}, false, ErrClosed
	}
	k.pending[ref] = ch
	k.mu.Unlock()
	frame := struct {
		Type string `json:"type"`
		api.SendFrame
	}{frameSend, api.SendFrame{Ref: json.RawMessage(strconv.Quote(ref)), ChatID: chatID, Content: m.Content,
		IdempotencyKey: m.IdempotencyKey, ReplyToID: m.ReplyToID}}
	if err := k.write(frame); err != nil {
		k.forget(ref)
		return Message{}, false, err
	}
	select {
	case r := <-ch:
		return r.msg, r.replay, r.err
	case <-ctx.Done():
		k.forget(ref)
		return Message{}, false, ctx.Err()
	}
}

func (k *Conn) forget(ref string) {
	k.mu.Lock()
	delete(k.pending, ref)
	k.mu.Unlock()
}

// Typing says the user started (or stopped) typing in a chat.
func (k *Conn) Typing(chatID int64, isTyping bool) error {
	return k.write(struct {
		Type string `json:"type"`
		api.TypingFrame
	}{frameTyping, api.TypingFrame{ChatID: chatID, IsTyping: isTyping}})
}

// Read moves the user's read pointer in a chat to seq.
func (k *Conn) Read(chatID, seq int64) error { return k.pointer(frameRead, chatID, seq) }

// Delivered moves the user's delivered pointer in a chat to seq.
func (k *Conn) Delivered(chatID, seq int64) error { return k.pointer(frameDelivered, chatID, seq) }

func (k *Conn) pointer(typ string, chatID, seq int64) error {
	return k.write(struct {
		Type string `json:"type"`
		api.PointerFrame
	}{typ, api.PointerFrame{ChatID: chatID, Seq: seq}})
}

// SetPresence tells the server the user is "online" or "away".
func (k *Conn) SetPresence(status string) error {
	return k.write(struct {
		Type string `json:"type"`
		api.PresenceFrame
	}{framePresence, api.PresenceFrame{Status: status}})
}

// Ping sends the JSON ping frame; the server answers pong.
func (k *Conn) Ping() error {
	return k.write(struct {
		Type string `json:"type"`
	}{framePing})
}

// write sends one client frame.
func (k *Conn) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("client: encode frame: %w", err)
	}
	if isClosed(k.done) {
		return ErrClosed
	}
	if k.wire != nil {
		k.wire(true, b)
	}
	k.wmu.Lock()
	defer k.wmu.Unlock()
	_ = k.ws.SetWriteDeadline(time.Now().Add(k.opts.WriteTimeout))
	if err := k.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("client: websocket write: %w", err)
	}
	return nil
}

// Close closes the connection normally (1000) and waits briefly for the
// server's answer.
func (k *Conn) Close() error {
	k.once.Do(func() {
		close(k.closing)
		k.wmu.Lock()
		_ = k.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
			time.Now().Add(time.Second))
		k.wmu.Unlock()
		t := time.NewTimer(2 * time.Second)
		defer t.Stop()
		select {
		case <-k.done:
		case <-t.C:
		}
		_ = k.ws.Close()
	})
	<-k.done
	return nil
}

func (k *Conn) readFrame() (Frame, error) {
	_, data, err := k.ws.ReadMessage()
	if err != nil {
		return Frame{}, err
	}
	if k.wire != nil {
		k.wire(false, data)
	}
	f := Frame{At: time.Now()}
	if err := json.Unmarshal(data, &f); err != nil {
		return Frame{}, fmt.Errorf("client: undecodable server frame %.200q: %w", data, err)
	}
	return f, nil
}

func (k *Conn) readLoop() {
	var err error
	defer func() { k.end(err) }()
	for {
		var f Frame
		f, err = k.readFrame()
		if err != nil {
			return
		}
		k.extendRead()
		if (f.Type == FrameAck || f.Type == FrameError) && k.answer(f) {
			continue
		}
		if k.onFrame != nil {
			k.onFrame(f)
			continue
		}
		select {
		case k.frames <- f:
		case <-k.closing:
			err = nil
			return
		}
	}
}

// answer completes the Send an ack or error frame answers; false if it
// answers none.
func (k *Conn) answer(f Frame) bool {
	var env struct {
		Ref json.RawMessage `json:"ref"`
	}
	var ref string
	if json.Unmarshal(f.Data, &env) != nil || len(env.Ref) == 0 || json.Unmarshal(env.Ref, &ref) != nil {
		return false
	}
	k.mu.Lock()
	ch, ok := k.pending[ref]
	delete(k.pending, ref)
	k.mu.Unlock()
	if !ok {
		return false
	}
	if f.Type == FrameError {
		ch <- sendResult{err: ErrorOf(f)}
		return true
	}
	var ack api.Ack
	if err := f.Decode(&ack); err != nil {
		ch <- sendResult{err: fmt.Errorf("client: undecodable ack: %w", err)}
		return true
	}
	ch <- sendResult{msg: ack.Message, replay: ack.Replay}
	return true
}

// ErrorOf decodes an error frame (one delivered to OnFrame or Frames:
// the answer to a typing, read or presence frame, say).
func ErrorOf(f Frame) *Error {
	var d api.ErrorFrame
	_ = f.Decode(&d)
	return &Error{Status: statusOfCode(d.Code), Code: d.Code, Message: d.Message,
		RetryAfter: time.Duration(d.RetryAfterMs) * time.Millisecond}
}

// end records why the reader stopped and fails the sends still waiting.
func (k *Conn) end(err error) {
	if isClosed(k.closing) {
		err = nil
	}
	k.mu.Lock()
	k.err, k.ended = err, true
	pending := k.pending
	k.pending = map[string]chan sendResult{}
	k.mu.Unlock()
	for _, ch := range pending {
		if err != nil {
			ch <- sendResult{err: fmt.Errorf("%w: %w", ErrClosed, err)}
		} else {
			ch <- sendResult{err: ErrClosed}
		}
	}
	if k.frames != nil {
		close(k.frames)
	}
	close(k.done)
	_ = k.ws.Close()
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
