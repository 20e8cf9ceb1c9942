package http_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"

	httpadapter "github.com/fechatter/fechatter/adapters/http"
	"github.com/fechatter/fechatter/adapters/http/contract"
	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/api"
)

// harness is a REST server on the memory adapters, driven in-process.
type harness struct {
	t   *testing.T
	env memapp.Env
	srv *httpadapter.Server
}

func newHarness(t *testing.T, opts ...func(*memapp.Options)) *harness {
	t.Helper()
	o := memapp.Options{}
	for _, f := range opts {
		f(&o)
	}
	env := memapp.New(o)
	srv := httpadapter.NewServer(env.App, env.Tokens, zap.NewNop(), httpadapter.Options{})
	srv.NotFound()
	return &harness{t: t, env: env, srv: srv}
}

// reply is a decoded answer.
type reply struct {
	status int
	header nethttp.Header
	raw    []byte
}

func (r reply) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.raw, v); err != nil {
		t.Fatalf("answer %d is not JSON (%v): %s", r.status, err, r.raw)
	}
}

func (r reply) errCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	r.json(t, &e)
	if e.Error.Message == "" {
		t.Errorf("error answer without message: %s", r.raw)
	}
	return e.Error.Code
}

// do sends body (a string is sent as is, anything else as JSON).
func (h *harness) do(method, path, token string, body any) reply {
	h.t.Helper()
	var sent []byte
	switch b := body.(type) {
	case nil:
	case string:
		sent = []byte(b)
	case []byte:
		sent = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		sent = raw
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(sent)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.srv.Fiber().Test(req, -1)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	// Every exchange is checked against openapi.json.
	if err := contract.Default(h.t).Exchange(req, sent, resp.StatusCode, resp.Header, raw); err != nil {
		h.t.Errorf("contract: %v", err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, raw: raw}
}

// must sends and fails the test unless the status is want.
func (h *harness) must(want int, method, path, token string, body any, out any) reply {
	h.t.Helper()
	r := h.do(method, path, token, body)
	if r.status != want {
		h.t.Fatalf("%s %s = %d, want %d: %s", method, path, r.status, want, r.raw)
	}
	if out != nil {
		r.json(h.t, out)
	}
	return r
}

type user struct {
	ID, WorkspaceID int64
	Token, Refresh  string
	Email           string
}

var seq atomic.Int64

// signup creates a user in workspace ws (created if new; joined with an
// invite from inviter otherwise).
func (h *harness) signup(ws string, inviter *user) user {
	h.t.Helper()
	email := fmt.Sprintf("u%d@example.com", seq.Add(1))
	body := map[string]any{"email": email, "password": "password123", "fullname": "User " + email, "workspace": ws}
	if inviter != nil {
		var inv struct{ Code string }
		h.must(201, "POST", "/api/v1/workspace/invites", inviter.Token, map[string]any{}, &inv)
		body["invite_code"] = inv.Code
	}
	var res struct {
		User struct {
			ID          int64 `json:"id"`
			WorkspaceID int64 `json:"workspace_id"`
		}
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	h.must(201, "POST", "/api/v1/auth/signup", "", body, &res)
	return user{ID: res.User.ID, WorkspaceID: res.User.WorkspaceID, Token: res.AccessToken, Refresh: res.RefreshToken, Email: email}
}

// team makes a workspace with an owner and n more members.
func (h *harness) team(n int) (owner user, members []user) {
	h.t.Helper()
	ws := fmt.Sprintf("team-%d", seq.Add(1))
	owner = h.signup(ws, nil)
	for i := 0; i < n; i++ {
		members = append(members, h.signup(ws, &owner))
	}
	return owner, members
}

// The API objects as the tests read them: the one definition in package api.
type (
	chatJSON   = api.ChatSummary
	msgJSON    = api.Message
	memberJSON = api.Member
)

func (h *harness) createChat(by user, typ, name string, members ...user) chatJSON {
	h.t.Helper()
	ids := []int64{}
	for _, m := range members {
		ids = append(ids, m.ID)
	}
	var c chatJSON
	r := h.do("POST", "/api/v1/chats", by.Token, map[string]any{"type": typ, "name": name, "member_ids": ids})
	if r.status != 201 && r.status != 200 {
		h.t.Fatalf("create %s chat = %d: %s", typ, r.status, r.raw)
	}
	r.json(h.t, &c)
	return c
}

func (h *harness) send(by user, chatID int64, content string) msgJSON {
	h.t.Helper()
	var m msgJSON
	h.must(201, "POST", fmt.Sprintf("/api/v1/chats/%d/messages", chatID), by.Token, map[string]any{"content": content}, &m)
	return m
}

func (h *harness) messages(by user, chatID int64, q string) (msgs []msgJSON, more bool) {
	h.t.Helper()
	var page struct {
		Messages []msgJSON `json:"messages"`
		HasMore  bool      `json:"has_more"`
	}
	h.must(200, "GET", fmt.Sprintf("/api/v1/chats/%d/messages%s", chatID, q), by.Token, nil, &page)
	return page.Messages, page.HasMore
}

func (h *harness) members(by user, chatID int64) []memberJSON {
	h.t.Helper()
	var ms struct{ Members []memberJSON }
	h.must(200, "GET", fmt.Sprintf("/api/v1/chats/%d/members", chatID), by.Token, nil, &ms)
	return ms.Members
}

// listen serves the app on a loopback port until the test ends and returns
// its base URL.
func (h *harness) listen() string {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	go func() { _ = h.srv.Fiber().Listener(ln) }()
	h.t.Cleanup(func() { _ = h.srv.Fiber().Shutdown() })
	return "http://" + ln.Addr().String()
}
