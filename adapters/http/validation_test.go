package http_test

import (
	"fmt"
	"io"
	nethttp "net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fechatter/fechatter/api"
)

// TestEveryRouteRejectsBadInputAndChangesNothing sends malformed requests to
// every route with a body or parameters and checks the 4xx and that the
// state a user can see is the same afterwards.
func TestEveryRouteRejectsBadInputAndChangesNothing(t *testing.T) {
	h := newHarness(t)
	owner, ms := h.team(2)
	bob, carol := ms[0], ms[1]
	c := h.createChat(owner, "group", "g", bob)
	h.send(owner, c.ID, "hello")
	chat := fmt.Sprintf("/api/v1/chats/%d", c.ID)
	huge := `{"content":"` + strings.Repeat("a", 64*1024) + `"}`

	snapshot := func() string {
		var b strings.Builder
		for _, u := range []user{owner, bob, carol} {
			b.Write(h.must(200, "GET", "/api/v1/chats", u.Token, nil, nil).raw)
		}
		b.Write(h.must(200, "GET", chat+"/messages", owner.Token, nil, nil).raw)
		b.Write(h.must(200, "GET", chat+"/members", owner.Token, nil, nil).raw)
		b.Write(h.must(200, "GET", "/api/v1/users", owner.Token, nil, nil).raw)
		return b.String()
	}
	before := snapshot()

	type bad struct {
		method, path string
		body         any
		status       int
	}
	cases := []bad{
		{"POST", "/api/v1/auth/signup", map[string]any{"email": "x@example.com", "password": "short", "fullname": "X", "workspace": "W"}, 400},
		{"POST", "/api/v1/auth/signup", map[string]any{"email": "not-an-email", "password": "password123", "fullname": "X", "workspace": "W"}, 400},
		{"POST", "/api/v1/auth/signup", map[string]any{"email": "x@example.com", "password": strings.Repeat("p", 129), "fullname": "X", "workspace": "W"}, 400},
		{"POST", "/api/v1/auth/signup", map[string]any{"email": "x@example.com", "password": "password123", "fullname": "  ", "workspace": "W"}, 400},
		{"POST", "/api/v1/auth/signup", map[string]any{"email": "x@example.com", "password": "password123", "fullname": "X"}, 400},
		{"POST", "/api/v1/auth/signup", map[string]any{"email": 1, "password": "password123", "fullname": "X", "workspace": "W"}, 400},
		{"POST", "/api/v1/auth/signup", "{\"email\":\"x@example.com\",\"password\":\"password123\",\"fullname\":\"\xff\",\"workspace\":\"W\"}", 400},
		{"POST", "/api/v1/auth/signin", map[string]any{"email": owner.Email}, 400},
		{"POST", "/api/v1/auth/signin", "nope", 400},
		{"POST", "/api/v1/auth/refresh", map[string]any{"refresh_token": 5}, 400},
		{"POST", "/api/v1/auth/logout", map[string]any{}, 400},
		{"GET", "/api/v1/users?limit=0", nil, 400},
		{"GET", "/api/v1/users?limit=abc", nil, 400},
		{"POST", "/api/v1/workspace/invites", map[string]any{"max_uses": -1}, 400},
		{"POST", "/api/v1/workspace/invites", "[1]", 400},
		{"POST", "/api/v1/chats", map[string]any{"type": "circle", "member_ids": []int64{bob.ID}}, 400},
		{"POST", "/api/v1/chats", map[string]any{"member_ids": []int64{bob.ID}}, 400},
		{"POST", "/api/v1/chats", map[string]any{"type": "group", "name": "solo", "member_ids": []int64{}}, 400},
		{"POST", "/api/v1/chats", map[string]any{"type": "direct", "member_ids": []int64{bob.ID, carol.ID}}, 400},
		{"POST", "/api/v1/chats", map[string]any{"type": "direct", "member_ids": []int64{owner.ID}}, 400},
		{"POST", "/api/v1/chats", map[string]any{"type": "public_channel", "member_ids": []int64{}}, 400},
		{"POST", "/api/v1/chats", map[string]any{"type": "group", "name": strings.Repeat("n", 81), "member_ids": []int64{bob.ID}}, 400},
		{"POST", "/api/v1/chats", map[string]any{"type": "group", "member_ids": "1,2"}, 400},
		{"POST", "/api/v1/chats", map[string]any{"type": "group", "member_ids": []any{1.5}}, 400},
		{"POST", "/api/v1/chats", map[string]any{"type": "group", "member_ids": []int64{-4}}, 400},
		{"GET", "/api/v1/chats/abc", nil, 400},
		{"PATCH", chat, map[string]any{}, 400},
		{"PATCH", chat, map[string]any{"name": strings.Repeat("n", 81)}, 400},
		{"PATCH", chat, map[string]any{"name": 7}, 400},
		{"PATCH", chat, map[string]any{"description": strings.Repeat("d", 501)}, 400},
		{"DELETE", "/api/v1/chats/x", nil, 400},
		{"POST", chat + "/members", map[string]any{}, 400},
		{"POST", chat + "/members", map[string]any{"user_ids": []int64{}}, 400},
		{"POST", chat + "/members", map[string]any{"user_ids": []string{"a"}}, 400},
		{"PATCH", fmt.Sprintf("%s/members/%d", chat, bob.ID), map[string]any{"role": "king"}, 400},
		{"PATCH", fmt.Sprintf("%s/members/%d", chat, bob.ID), map[string]any{}, 400},
		{"PATCH", chat + "/members/zz", map[string]any{"role": "admin"}, 400},
		{"DELETE", chat + "/members/zz", nil, 400},
		{"POST", "/api/v1/chats/zz/join", nil, 400},
		{"POST", chat + "/messages", map[string]any{"content": ""}, 400},
		{"GET", chat + "/messages?limit=500", nil, 400},
		{"GET", chat + "/messages/x", nil, 400},
		{"PATCH", chat + "/messages/1", map[string]any{"content": "  "}, 400},
		{"PATCH", chat + "/messages/1", map[string]any{}, 400},
		{"DELETE", chat + "/messages/x", nil, 400},
		// Issue 14: reactions, attachments, replies, mentions, profiles, files.
		{"PUT", chat + "/messages/1/reactions/hello", nil, 400},
		{"PUT", chat + "/messages/1/reactions/" + url.PathEscape("👍👍"), nil, 400},
		{"PUT", chat + "/messages/1/reactions/" + url.PathEscape(":Shout:"), nil, 400},
		{"PUT", chat + "/messages/1/reactions/" + url.PathEscape(":"+strings.Repeat("a", 33)+":"), nil, 400},
		{"DELETE", chat + "/messages/1/reactions/nope", nil, 400},
		{"POST", chat + "/messages", map[string]any{"content": "", "attachment_ids": []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}, 400},
		{"POST", chat + "/messages", map[string]any{"content": "", "attachment_ids": []int64{3, 3}}, 400},
		{"POST", chat + "/messages", map[string]any{"content": "", "attachment_ids": []int64{-3}}, 400},
		{"POST", chat + "/messages", map[string]any{"content": "", "attachment_ids": []string{"a"}}, 400},
		{"POST", chat + "/messages", map[string]any{"content": "", "attachment_ids": []int64{}}, 400},
		{"POST", chat + "/messages", map[string]any{"content": "re", "reply_to_id": 99999999}, 400},
		{"POST", chat + "/messages", map[string]any{"content": "re", "reply_to_id": "x"}, 400},
		{"GET", chat + "/messages/1/replies?limit=0", nil, 400},
		{"GET", chat + "/messages/1/replies?limit=201", nil, 400},
		{"GET", chat + "/messages/1/replies?after_seq=abc", nil, 400},
		{"GET", "/api/v1/mentions?limit=0", nil, 400},
		{"GET", "/api/v1/mentions?before_id=abc", nil, 400},
		{"PATCH", "/api/v1/users/me", map[string]any{"fullname": "   "}, 400},
		{"PATCH", "/api/v1/users/me", map[string]any{"fullname": 5}, 400},
		{"PATCH", "/api/v1/users/me", map[string]any{"avatar_file_id": -1}, 400},
		{"GET", "/api/v1/files/abc", nil, 400},
		{"POST", "/api/v1/files", map[string]any{"file": "not multipart"}, 400},
	}
	for _, tc := range cases {
		r := h.do(tc.method, tc.path, owner.Token, tc.body)
		if r.status != tc.status {
			t.Errorf("%s %s %v = %d, want %d: %s", tc.method, tc.path, tc.body, r.status, tc.status, r.raw)
			continue
		}
		code := r.errCode(t)
		if (tc.status == 400 && code != "invalid_argument") || (tc.status == 413 && code != "payload_too_large") {
			t.Errorf("%s %s: code %q for %d", tc.method, tc.path, code, tc.status)
		}
	}
	// Bodies over 64 KiB, over a real socket (the in-process Test refuses them).
	base := h.listen()
	for _, path := range []string{"/api/v1/auth/signup", chat + "/messages"} {
		req, _ := nethttp.NewRequest("POST", base+path, strings.NewReader(huge))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+owner.Token)
		resp, err := nethttp.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r := reply{status: resp.StatusCode, raw: raw}
		if r.status != 413 || r.errCode(t) != "payload_too_large" {
			t.Errorf("POST %s with 64 KiB+ = %d %s", path, r.status, raw)
		}
	}
	if after := snapshot(); after != before {
		t.Errorf("bad requests changed what users see:\nbefore %s\nafter  %s", before, after)
	}
	// Nobody signed up through the bad signups.
	h.must(401, "POST", "/api/v1/auth/signin", "", map[string]any{"email": "x@example.com", "password": "password123"}, nil)
	if r := h.do("GET", "/api/v1/nope", owner.Token, nil); r.status != 404 || r.errCode(t) != "not_found" {
		t.Errorf("unknown route = %d %s", r.status, r.raw)
	}
}

// TestNonMembersGet404Everywhere tries every chat route as a workspace
// colleague who is not a member of a private chat.
func TestNonMembersGet404Everywhere(t *testing.T) {
	h := newHarness(t)
	owner, ms := h.team(2)
	bob, outsider := ms[0], ms[1]
	for _, typ := range []string{"group", "private_channel", "direct"} {
		c := h.createChat(owner, typ, "private-"+typ, bob)
		m := h.send(owner, c.ID, "secret")
		chat := fmt.Sprintf("/api/v1/chats/%d", c.ID)
		up := h.upload(owner.Token, "secret.txt", []byte("the plan"))
		var f api.File
		up.json(t, &f)
		var withFile msgJSON
		h.must(201, "POST", chat+"/messages", owner.Token, map[string]any{"content": "", "attachment_ids": []int64{f.ID}}, &withFile)
		h.must(200, "GET", fmt.Sprintf("/api/v1/files/%d", f.ID), bob.Token, nil, nil) // a member reads it
		msg := fmt.Sprintf("%s/messages/%d", chat, m.Seq)
		before := h.must(200, "GET", chat+"/messages", owner.Token, nil, nil).raw
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{"GET", chat, nil},
			{"PATCH", chat, map[string]any{"name": "mine"}},
			{"DELETE", chat, nil},
			{"GET", chat + "/members", nil},
			{"POST", chat + "/members", map[string]any{"user_ids": []int64{outsider.ID}}},
			{"PATCH", fmt.Sprintf("%s/members/%d", chat, bob.ID), map[string]any{"role": "admin"}},
			{"DELETE", fmt.Sprintf("%s/members/%d", chat, bob.ID), nil},
			{"POST", chat + "/join", nil},
			{"POST", chat + "/messages", map[string]any{"content": "let me in"}},
			{"GET", chat + "/messages", nil},
			{"GET", chat + "/messages?after_seq=0", nil},
			{"GET", msg, nil},
			{"PATCH", msg, map[string]any{"content": "edited"}},
			{"DELETE", msg, nil},
			{"PUT", msg + "/reactions/" + url.PathEscape("👍"), nil},
			{"DELETE", msg + "/reactions/" + url.PathEscape("👍"), nil},
			{"GET", msg + "/replies", nil},
			{"POST", chat + "/messages", map[string]any{"content": "butting in", "reply_to_id": m.ID}},
			{"GET", fmt.Sprintf("/api/v1/files/%d", withFile.Attachments[0].ID), nil},
		} {
			r := h.do(tc.method, tc.path, outsider.Token, tc.body)
			if r.status != 404 || r.errCode(t) != "not_found" {
				t.Errorf("%s: %s %s as non-member = %d %s", typ, tc.method, tc.path, r.status, r.raw)
			}
		}
		if after := h.must(200, "GET", chat+"/messages", owner.Token, nil, nil).raw; string(after) != string(before) {
			t.Errorf("%s: non-member changed the chat", typ)
		}
		if n := len(h.members(owner, c.ID)); n != 2 {
			t.Errorf("%s: %d members after the outsider's attempts", typ, n)
		}
	}
}

func TestOpenAPIListsEveryRoute(t *testing.T) {
	h := newHarness(t)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	h.must(200, "GET", "/openapi.json", "", nil, &doc)
	want := map[string][]string{
		"/api/v1/auth/signup": {"post"}, "/api/v1/auth/signin": {"post"}, "/api/v1/auth/refresh": {"post"}, "/api/v1/auth/logout": {"post"},
		"/api/v1/users/me": {"get"}, "/api/v1/users": {"get"}, "/api/v1/workspace": {"get"}, "/api/v1/workspace/invites": {"post"},
		"/api/v1/chats": {"get", "post"}, "/api/v1/chats/{id}": {"get", "patch", "delete"},
		"/api/v1/chats/{id}/members": {"get", "post"}, "/api/v1/chats/{id}/members/{user_id}": {"patch", "delete"},
		"/api/v1/chats/{id}/join": {"post"}, "/api/v1/chats/{id}/messages": {"get", "post"},
		"/api/v1/chats/{id}/messages/{seq}": {"get", "patch", "delete"},
		"/health/live":                      {"get"}, "/health/ready": {"get"},
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	for p, methods := range want {
		for _, m := range methods {
			if _, ok := doc.Paths[p][m]; !ok {
				t.Errorf("openapi.json lacks %s %s", m, p)
			}
		}
	}
}
