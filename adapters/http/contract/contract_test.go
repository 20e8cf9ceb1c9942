package contract_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fechatter/fechatter/adapters/http/contract"
)

// The document is valid OpenAPI, and the checker catches answers that
// drift from it: these are deliberately wrong answers of real routes.
func TestCheckerCatchesDrift(t *testing.T) {
	c := contract.Default(t)
	get := func(path string) *http.Request {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Authorization", "Bearer x")
		return r
	}
	json := http.Header{"Content-Type": {"application/json"}}
	okMsg := `{"id":1,"chat_id":2,"seq":3,"sender_id":4,"content":"hi","reply_to_id":null,"idempotency_key":null,` +
		`"created_at":"2026-11-25T19:33:47.123456Z","edited_at":null,"deleted_at":null,` +
		`"attachments":[],"reactions":[],"mentions":[],"mentions_all":false,"thread_root_id":null,"reply_count":0,"last_reply_at":null}`
	tests := []struct {
		name   string
		req    *http.Request
		status int
		body   string
		want   string // "" means conforming
	}{
		{"conforming message", get("/api/v1/chats/2/messages/3"), 200, okMsg, ""},
		{"conforming error", get("/api/v1/chats/2/messages/3"), 404, `{"error":{"code":"not_found","message":"chat 2 not found"}}`, ""},
		{"missing field", get("/api/v1/chats/2/messages/3"), 200, strings.Replace(okMsg, `"seq":3,`, "", 1), "seq"},
		{"wrong type", get("/api/v1/chats/2/messages/3"), 200, strings.Replace(okMsg, `"seq":3`, `"seq":"3"`, 1), "seq"},
		{"undocumented field", get("/api/v1/chats/2/messages/3"), 200, strings.Replace(okMsg, `"seq":3`, `"seq":3,"secret":1`, 1), "secret"},
		{"undocumented status", get("/api/v1/chats/2/messages/3"), 409, `{"error":{"code":"conflict","message":"x"}}`, "status"},
		{"error not in the error shape", get("/api/v1/chats/2/messages/3"), 404, `{"message":"nope"}`, "error"},
		{"unknown error code", get("/api/v1/chats/2/messages/3"), 404, `{"error":{"code":"gone","message":"x"}}`, "code"},
		{"refused request accepted", httptest.NewRequest("GET", "/api/v1/chats/2/messages/3", nil), 200, okMsg, "refuses the request"},
		{"unknown path answered 200", get("/api/v1/nothing"), 200, `{}`, "not in the document"},
		{"unknown path answered 404", get("/api/v1/nothing"), 404, `{"error":{"code":"not_found","message":"not found"}}`, ""},
		{"429 without Retry-After", httptest.NewRequest("POST", "/api/v1/auth/signin", strings.NewReader(`{"email":"a@b.c","password":"x"}`)), 429,
			`{"error":{"code":"rate_limited","message":"slow down"}}`, "Retry-After"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Header.Set("Content-Type", "application/json")
			var reqBody []byte
			if tt.req.Body != nil {
				reqBody = []byte(`{"email":"a@b.c","password":"x"}`)
			}
			err := c.Exchange(tt.req, reqBody, tt.status, json, []byte(tt.body))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("conforming exchange refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("drift not caught")
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error does not mention %q: %v", tt.want, err)
			}
		})
	}
}

// A deliberately wrong answer from a real handler fails the harness's
// check: a test server whose handler drifts.
func TestCheckerCatchesADriftingHandler(t *testing.T) {
	c := contract.Default(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"1","workspace_id":1,"email":"a@b.c","fullname":"A","role":"member","created_at":"2026-11-25T19:33:47Z"}`))
	}))
	defer srv.Close()
	rec := &recorder{TB: t}
	hc := &http.Client{Transport: c.Transport(rec, nil)}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/users/me", nil)
	req.Header.Set("Authorization", "Bearer x")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "id") {
		t.Fatalf("errors = %q, want one about id", rec.errors)
	}
}

// WebSocket frames are checked against their schemas.
func TestCheckerChecksFrames(t *testing.T) {
	c := contract.Default(t)
	for _, f := range []string{
		`{"type":"pong","data":{}}`,
		`{"type":"chat.deleted","data":{"chat_id":4}}`,
		`{"type":"error","data":{"ref":"r1","code":"invalid_argument","message":"x"}}`,
		`{"type":"typing.updated","data":{"chat_id":1,"user_id":2,"is_typing":true,"expires_at":"2026-11-25T19:33:47Z"}}`,
	} {
		if err := c.ServerFrame([]byte(f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range []string{
		`{"type":"chat.deleted","data":{}}`,
		`{"type":"chat.deleted","data":{"chat_id":"4"}}`,
		`{"type":"chat.exploded","data":{}}`,
		`{"type":"error","data":{"code":"nope","message":"x"}}`,
	} {
		if err := c.ServerFrame([]byte(f)); err == nil {
			t.Errorf("%s: drift not caught", f)
		}
	}
	if err := c.ClientFrame([]byte(`{"type":"message.send","ref":1,"chat_id":2,"content":"x"}`)); err != nil {
		t.Error(err)
	}
	if err := c.ClientFrame([]byte(`{"type":"read","chat_id":2}`)); err == nil {
		t.Error("read without seq: not caught")
	}
}

type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, format)
	if len(args) > 0 {
		r.errors[len(r.errors)-1] = strings.TrimSpace(strings.ReplaceAll(sprint(args...), "\n", " "))
	}
}

func sprint(args ...any) string {
	var b strings.Builder
	for _, a := range args {
		if err, ok := a.(error); ok {
			b.WriteString(err.Error())
		}
	}
	return b.String()
}
