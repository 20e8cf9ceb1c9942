package ws

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"net"
	"net/http"
	"testing"

	"github.com/fasthttp/websocket"
)

// The frames the writer encodes itself are read back, payload for payload,
// by the WebSocket library's client: every length encoding (7-bit, 16-bit,
// 64-bit) and its edges, many frames in one write as the batches go out.
func TestAppendTextFrameIsReadByAWebSocketClient(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 127, 1000, 0xffff, 0x10000, 200_000}
	var wire []byte
	var want [][]byte
	for i, n := range sizes {
		p := bytes.Repeat([]byte{byte('a' + i)}, n)
		want = append(want, p)
		wire = appendTextFrame(wire, p)
	}
	server, clientSide := net.Pipe()
	defer server.Close()
	go func() {
		// The server's half of the handshake, then the frames in one write.
		br := bufio.NewReader(server)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		_, _ = server.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n"))
		_, _ = server.Write(wire)
	}()
	d := websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 1024,
		NetDialContext: func(context.Context, string, string) (net.Conn, error) { return clientSide, nil }}
	c, _, err := d.Dial("ws://fechatter.test/api/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, p := range want {
		typ, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d (%d bytes): %v", i, len(p), err)
		}
		if typ != websocket.TextMessage || !bytes.Equal(got, p) {
			t.Fatalf("frame %d: type %d, %d bytes; want a text frame of %d", i, typ, len(got), len(p))
		}
	}
}
