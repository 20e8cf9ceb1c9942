package ws

import (
	"strings"
	"testing"

	"github.com/fechatter/fechatter/domain/errs"
)

// FuzzDecodeFrameRefusesNUL: the WebSocket frame decoder never panics, refuses with
// Invalid only, and a frame it accepts carries no NUL in its strings.
func FuzzDecodeFrameRefusesNUL(f *testing.F) {
	for _, seed := range []string{
		`{"type":"message.send","ref":"r1","chat_id":1,"content":"hi"}`,
		`{"type":"message.send","ref":"r1","chat_id":1,"content":"a\u0000b"}`,
		`{"type":"message.send","ref":"r1","chat_id":1,"content":"\ud800"}`,
		`{"type":"message.send","chat_id":1,"content":"x","idempotency_key":"\u0000"}`,
		`{"type":"typing","chat_id":1,"is_typing":true}`, `{"type":"read","chat_id":1,"seq":2}`,
		`{"type":"presence","status":"away"}`, `{"type":"ping"}`, `{"type":"\u0000"}`,
		`{"type":"ping","ref":"\udfff"}`, `{"type":1}`, `[]`, `{`, "{\"type\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := decodeFrame(data)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("%q: error of kind %v: %v", data, errs.KindOf(err), err)
			}
			return
		}
		for _, s := range []string{fr.Type, fr.Content, fr.IdempotencyKey, fr.Status, string(fr.Ref)} {
			if strings.ContainsRune(s, 0) {
				t.Fatalf("%q: accepted a NUL", data)
			}
		}
	})
}
