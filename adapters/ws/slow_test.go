package ws_test

import (
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/adapters/ws"
)

// countingObserver counts what the gateway reports to the metrics.
type countingObserver struct {
	delivered, slow atomic.Int64
}

func (o *countingObserver) Delivered(n int)     { o.delivered.Add(int64(n)) }
func (o *countingObserver) SlowConsumerClosed() { o.slow.Add(1) }

// A client that stops reading while the others of its chat go on is closed
// with 1008 once it is MaxUnreadBytes behind and has confirmed nothing for
// StallTimeout, although the kernel buffers
// (megabytes on loopback) would absorb much more; the others get
// everything, and the stalled client, when it reads again, finds the
// close frame after the frames sent before it.
func TestStalledReaderIsClosedOnceBehindByBytes(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	obs := &countingObserver{}
	const maxUnread = 64 << 10
	s := e.start(bus, serverOptions{Options: ws.Options{Observer: obs, MaxUnreadBytes: maxUnread, StallTimeout: 300 * time.Millisecond}})
	us := e.users(3)
	alice, bob, stalled := us[0], us[1], us[2]
	g := e.group(alice, bob, stalled)
	ca := dial(t, s, alice, "alice", dialOptions{})
	cb := dial(t, s, bob, "bob", dialOptions{})
	cs := dial(t, s, stalled, "stalled", dialOptions{noRead: true})
	ca.hello()
	cb.hello()
	eventually(t, "three connections in the chat", func() bool { return s.gw.ChatConnections(g.ID) == 3 })

	content := strings.Repeat("words ", 100) // a frame of about 900 bytes
	sent := 0
	for obs.slow.Load() == 0 {
		if sent*len(content) > 9*maxUnread { // past the hard bound
			t.Fatalf("%d messages (%d KiB) sent and the stalled client is still open", sent, sent*len(content)>>10)
		}
		e.send(alice, g.ID, content)
		sent++
		// Delivered to everyone (in one go) once alice has it.
		ca.waitCount("message", isType("message.created"), sent)
	}
	if sent*len(content) < maxUnread/2 {
		t.Fatalf("closed after %d messages (%d KiB), well below the %d KiB bound", sent, sent*len(content)>>10, maxUnread>>10)
	}
	// Reading again at once (within the close grace), it finds the close
	// frame after what was written before it (closed by a send finding it
	// behind, or by its unanswered ping, whichever came first).
	readUntilClose(t, cs, "slow consumer")
	eventually(t, "the stalled connection gone", func() bool { return s.gw.Stats().Connections == 2 })
	for i := 0; i < 5; i++ { // the others go on
		e.send(alice, g.ID, "after")
		sent++
	}
	for _, c := range []*client{ca, cb} {
		c.waitCount("every message", isType("message.created"), sent)
		for i, f := range filter(c.snapshot(), isType("message.created")) {
			if !isCreated(g.ID, int64(i+1))(f) {
				t.Fatalf("%s: message #%d is %s, want seq %d", c.name, i+1, f.Data, i+1)
			}
		}
	}
	if got := obs.delivered.Load(); got < int64(2*sent) {
		t.Fatalf("%d deliveries counted, want at least %d", got, 2*sent)
	}
	if n := obs.slow.Load(); n != 1 {
		t.Fatalf("%d slow-consumer closes counted, want 1", n)
	}
}

// A client that stops reading once beyond the bound, with nothing more
// sent to it, is closed with 1008 StallTimeout after a ping that asked how
// far it read.
func TestStalledReaderIsClosedAfterStallTimeout(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	obs := &countingObserver{}
	s := e.start(bus, serverOptions{Options: ws.Options{Observer: obs, MaxUnreadBytes: 4 << 10, ProbeBytes: 4 << 10,
		StallTimeout: 300 * time.Millisecond}})
	us := e.users(2)
	alice, stalled := us[0], us[1]
	g := e.group(alice, stalled)
	ca := dial(t, s, alice, "alice", dialOptions{})
	cs := dial(t, s, stalled, "stalled", dialOptions{noRead: true})
	ca.hello()
	// In the chat's room, not only connected: a send before the set-up
	// would not reach the stalled client, which then never gets behind.
	eventually(t, "two connections in the chat", func() bool { return s.gw.ChatConnections(g.ID) == 2 })
	content := strings.Repeat("words ", 100)
	for i := 0; i < 10; i++ { // 9 KB: a probe goes out, then nothing more
		e.send(alice, g.ID, content)
	}
	eventually(t, "the stalled connection closed", func() bool { return obs.slow.Load() == 1 })
	readUntilClose(t, cs, "stopped reading")
	eventually(t, "the stalled connection gone", func() bool { return s.gw.Stats().Connections == 1 })
	ca.roundTrip()
}

// A client that reads keeps up however much it is sent: its pongs confirm
// what it read, so it never counts as behind; nor does one whose pongs do
// not echo the ping's payload (each still shows it read up to a ping).
func TestReadingClientIsNeverBehind(t *testing.T) {
	t.Parallel()
	for _, emptyPong := range []bool{false, true} {
		e, bus := newMemEnv(t, memapp.Options{})
		obs := &countingObserver{}
		s := e.start(bus, serverOptions{Options: ws.Options{Observer: obs, MaxUnreadBytes: 32 << 10, ProbeBytes: 4 << 10,
			StallTimeout: 200 * time.Millisecond}})
		us := e.users(2)
		g := e.group(us[0], us[1])
		c := dial(t, s, us[1], "reader", dialOptions{emptyPong: emptyPong})
		c.hello()
		content := strings.Repeat("words ", 100)
		const n = 200 // 180 KB, several times the bound
		for i := 1; i <= n; i++ {
			e.send(us[0], g.ID, content)
			c.waitCount("message", isType("message.created"), i)
		}
		if obs.slow.Load() != 0 {
			t.Fatalf("a client that reads (empty pongs %v) was closed as a slow consumer", emptyPong)
		}
		c.roundTrip()
	}
}

// readUntilClose reads what the server sent a client that did not read:
// frames, then a close frame with 1008 and a reason containing why.
func readUntilClose(t *testing.T, c *client, why string) {
	t.Helper()
	frames := 0
	for {
		_ = c.c.SetReadDeadline(time.Now().Add(waitLimit))
		_, _, err := c.c.ReadMessage()
		if err == nil {
			frames++
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok || ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, why) {
			t.Fatalf("%s: read ended with %v after %d frames, want close 1008 %q", c.name, err, frames, why)
		}
		return
	}
}

// The client's pings are answered by the connection's writer (the only
// goroutine that writes to the socket), payload echoed, in between the
// frames it sends; and a client's close is answered by a close frame
// after which nothing more comes.
func TestClientPingsAndCloseAreAnsweredByTheWriter(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	s := e.start(bus, serverOptions{})
	us := e.users(2)
	alice, bob := us[0], us[1]
	g := e.group(alice, bob)
	c, _, err := dialRaw(s, bob.Token, dialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	pongs := make(chan string, 16)
	c.SetPongHandler(func(data string) error { pongs <- data; return nil })
	frames := make(chan string, 256)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			frames <- string(data)
		}
	}()
	eventually(t, "bob in the chat", func() bool { return s.gw.ChatConnections(g.ID) == 1 })
	for i := range 5 {
		e.send(alice, g.ID, strings.Repeat("x", 2000))
		payload := "ping-" + strconv.Itoa(i)
		if err := c.WriteControl(websocket.PingMessage, []byte(payload), time.Now().Add(waitLimit)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-pongs:
			if got != payload {
				t.Fatalf("pong %q, want %q", got, payload)
			}
		case <-time.After(waitLimit):
			t.Fatalf("no pong for %q", payload)
		}
	}
	// Bob closes: the server's close frame (code 1000) ends the stream;
	// the library's reader reports it as the close error, after the
	// frames written before it.
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(waitLimit)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readErr:
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
			t.Fatalf("read ended with %v, want the server's close frame with 1000", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("no close frame from the server")
	}
	eventually(t, "bob's connection gone", func() bool { return s.gw.Stats().Connections == 0 })
}
