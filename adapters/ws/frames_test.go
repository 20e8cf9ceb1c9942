package ws

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/fechatter/fechatter/domain/errs"
)

func TestDecodeFrame(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    clientFrame
		wantErr string // substring of the message; "" means success
	}{
		{in: `{"type":"ping"}`, want: clientFrame{Type: "ping"}},
		{in: ` {"type":"ping","extra":{"x":[1]}} `, want: clientFrame{Type: "ping"}},
		{in: `{"type":"message.send","ref":"a","chat_id":3,"content":"hi"}`,
			want: clientFrame{Type: "message.send", Ref: json.RawMessage(`"a"`), ChatID: 3, Content: "hi"}},
		{in: `{"type":"message.send","ref":17,"chat_id":3,"content":"hi","idempotency_key":"k","reply_to_id":9}`,
			want: clientFrame{Type: "message.send", Ref: json.RawMessage(`17`), ChatID: 3, Content: "hi", IdempotencyKey: "k", ReplyToID: 9}},
		{in: `{"type":"message.send","ref":"a","chat_id":3,"content":"hi","idempotency_key":null,"reply_to_id":null}`,
			want: clientFrame{Type: "message.send", Ref: json.RawMessage(`"a"`), ChatID: 3, Content: "hi"}},
		{in: `{"type":"typing","chat_id":3,"is_typing":false}`, want: clientFrame{Type: "typing", ChatID: 3}},
		{in: `{"type":"read","chat_id":3,"seq":4}`, want: clientFrame{Type: "read", ChatID: 3, Seq: 4}},
		{in: `{"type":"delivered","chat_id":3,"seq":4}`, want: clientFrame{Type: "delivered", ChatID: 3, Seq: 4}},
		{in: `{"type":"presence","status":"away"}`, want: clientFrame{Type: "presence", Status: "away"}},

		{in: "", wantErr: "JSON object"},
		{in: `null`, wantErr: "JSON object"},
		{in: `"ping"`, wantErr: "JSON object"},
		{in: `{"type":"ping"} {}`, wantErr: "not valid JSON"},
		{in: "{\"type\":\"\xc3\"}", wantErr: "UTF-8"},
		{in: `{}`, wantErr: `"type" is required`},
		{in: `{"type":null}`, wantErr: `"type" is required`},
		{in: `{"type":["ping"]}`, wantErr: `"type" must be a string`},
		{in: `{"type":"PING"}`, wantErr: "unknown frame type"},
		{in: `{"type":"ping","ref":true}`, wantErr: `"ref"`},
		{in: `{"type":"ping","ref":"` + strings.Repeat("r", 200) + `"}`, wantErr: `"ref"`},
		{in: `{"type":"message.send","chat_id":3,"content":"hi"}`, wantErr: `"ref" is required`},
		{in: `{"type":"message.send","ref":1,"content":"hi"}`, wantErr: `"chat_id" is required`},
		{in: `{"type":"message.send","ref":1,"chat_id":-3,"content":"hi"}`, wantErr: `"chat_id" must be a positive integer`},
		{in: `{"type":"message.send","ref":1,"chat_id":"3","content":"hi"}`, wantErr: `"chat_id" must be an integer`},
		{in: `{"type":"message.send","ref":1,"chat_id":3,"content":5}`, wantErr: `"content" must be a string`},
		{in: `{"type":"message.send","ref":1,"chat_id":3}`, wantErr: `"content" is required`},
		{in: `{"type":"message.send","ref":1,"chat_id":3,"content":"x","idempotency_key":""}`, wantErr: "idempotency_key"},
		{in: `{"type":"message.send","ref":1,"chat_id":3,"content":"x","reply_to_id":0}`, wantErr: `"reply_to_id"`},
		{in: `{"type":"message.send","ref":1,"chat_id":99999999999999999999,"content":"x"}`, wantErr: `"chat_id" must be an integer`},
		{in: `{"type":"typing","chat_id":3}`, wantErr: `"is_typing" is required`},
		{in: `{"type":"typing","chat_id":3,"is_typing":1}`, wantErr: `"is_typing" must be a boolean`},
		{in: `{"type":"read","chat_id":3,"seq":0}`, wantErr: `"seq" must be a positive integer`},
		{in: `{"type":"delivered","seq":1}`, wantErr: `"chat_id" is required`},
		{in: `{"type":"presence"}`, wantErr: `"status" is required`},
		{in: `{"type":"presence","status":"offline"}`, wantErr: `"status" must be`},
	} {
		got, err := decodeFrame([]byte(tc.in))
		if tc.wantErr != "" {
			if err == nil || !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want invalid_argument containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got.Type != tc.want.Type || string(got.Ref) != string(tc.want.Ref) || got.ChatID != tc.want.ChatID ||
			got.Content != tc.want.Content || got.IdempotencyKey != tc.want.IdempotencyKey ||
			got.ReplyToID != tc.want.ReplyToID || got.IsTyping != tc.want.IsTyping || got.Seq != tc.want.Seq ||
			got.Status != tc.want.Status {
			t.Errorf("%s: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestDecodeFrameKeepsRefOnError(t *testing.T) {
	f, err := decodeFrame([]byte(`{"type":"message.send","ref":"abc","chat_id":"x"}`))
	if err == nil || string(f.Ref) != `"abc"` {
		t.Fatalf("ref %s, err %v", f.Ref, err)
	}
}

// FuzzDecodeFrame: no input panics; every failure is invalid_argument
// with a message, and its error frame encodes; every success satisfies
// what the handlers rely on.
func FuzzDecodeFrame(f *testing.F) {
	for _, seed := range []string{
		`{"type":"ping"}`,
		`{"type":"message.send","ref":"r1","chat_id":1,"content":"hello","idempotency_key":"k","reply_to_id":2}`,
		`{"type":"message.send","ref":-1.5e3,"chat_id":1,"content":""}`,
		`{"type":"typing","chat_id":1,"is_typing":true}`,
		`{"type":"delivered","chat_id":1,"seq":1}`,
		`{"type":"read","chat_id":9223372036854775807,"seq":9223372036854775807}`,
		`{"type":"presence","status":"online"}`,
		`{"type":"read","chat_id":1,"seq":"1"}`,
		`{"type":"\u0000","ref":"\ud800"}`,
		`{"type":"ping","type":"message.send"}`,
		`[{"type":"ping"}]`,
		"{\"type\":\"ping\",\"x\":\"\xff\"}",
		`{"type":"message.send","ref":"` + strings.Repeat("é", 70) + `"}`,
		``,
		`{`,
	} {
		f.Add([]byte(seed))
	}
	g := &Gateway{log: nopLogger()}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := decodeFrame(data)
		if fr.Ref != nil && (!json.Valid(fr.Ref) || len(fr.Ref) > maxRefBytes) {
			t.Fatalf("ref %q is not a short JSON value", fr.Ref)
		}
		if err != nil {
			if !errs.Is(err, errs.Invalid) || err.Error() == "" {
				t.Fatalf("error %v is not invalid_argument", err)
			}
			b, encErr := encodeFrame(frameError, g.errorOf(fr.Ref, err))
			if encErr != nil || !json.Valid(b) || !utf8.Valid(b) {
				t.Fatalf("error frame for %q does not encode: %v", data, encErr)
			}
			return
		}
		if _, ok := frameDecoders[fr.Type]; !ok {
			t.Fatalf("decoded unknown type %q", fr.Type)
		}
		switch fr.Type {
		case frameSend:
			if fr.Ref == nil || fr.ChatID <= 0 || fr.ReplyToID < 0 {
				t.Fatalf("bad message.send accepted: %+v", fr)
			}
		case frameTyping:
			if fr.ChatID <= 0 {
				t.Fatalf("bad typing accepted: %+v", fr)
			}
		case frameDelivered, frameRead:
			if fr.ChatID <= 0 || fr.Seq <= 0 {
				t.Fatalf("bad %s accepted: %+v", fr.Type, fr)
			}
		case framePresence:
			if fr.Status != "online" && fr.Status != "away" {
				t.Fatalf("bad presence accepted: %+v", fr)
			}
		}
	})
}

func nopLogger() *zap.Logger { return zap.NewNop() }
