package http_test

import (
	"strconv"
	"strings"
	"testing"
)

// A NUL or an unpaired surrogate anywhere (body field, query parameter) is a
// 400 invalid_argument naming the field, and nothing changes.
func TestNULAndSurrogatesAre400NamingTheField(t *testing.T) {
	h := newHarness(t)
	owner, members := h.team(1)
	c := h.createChat(owner, "group", "g", members...)
	cases := []struct{ method, path, body, field string }{
		{"POST", "/api/v1/auth/signup", `{"email":"n@example.com","password":"password123","fullname":"a\u0000b","workspace":"W"}`, "fullname"},
		{"POST", "/api/v1/auth/signup", `{"email":"n@example.com","password":"password123","fullname":"a","workspace":"W\ud800"}`, "workspace"},
		{"POST", "/api/v1/chats", `{"type":"group","name":"x\u0000","member_ids":[]}`, "name"},
		{"POST", "/api/v1/chats/" + itoa(c.ID) + "/messages", `{"content":"hi\u0000"}`, "content"},
		{"POST", "/api/v1/chats/" + itoa(c.ID) + "/messages", `{"content":"hi","idempotency_key":"\udc00"}`, "idempotency_key"},
		{"GET", "/api/v1/users?q=a%00b", "", "q"},
		{"GET", "/api/v1/chats/public?q=%ED%A0%80", "", "q"},
	}
	for _, tc := range cases {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		token := owner.Token
		r := h.must(400, tc.method, tc.path, token, body, nil)
		if r.errCode(t) != "invalid_argument" || !strings.Contains(string(r.raw), `\"`+tc.field+`\"`) {
			t.Errorf("%s %s: want invalid_argument naming %q, got %s", tc.method, tc.path, tc.field, r.raw)
		}
	}
	if msgs, _ := h.messages(owner, c.ID, ""); len(msgs) != 0 {
		t.Errorf("a rejected send stored %d messages", len(msgs))
	}
}

// After logout the session's access token is refused at once; other
// sessions live on. logout-all ends them all; a password change ends the
// others and keeps the caller's.
func TestRevokedSessionsAccessTokensAreRefused(t *testing.T) {
	h := newHarness(t)
	u := h.signup("Revoke", nil)
	var other struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	signin := func(pw string) {
		h.must(200, "POST", "/api/v1/auth/signin", "", map[string]any{"email": u.Email, "password": pw}, &other)
	}
	signin("password123")
	h.must(204, "POST", "/api/v1/auth/logout", u.Token, map[string]any{"refresh_token": u.Refresh}, nil)
	h.must(401, "GET", "/api/v1/users/me", u.Token, nil, nil)
	h.must(200, "GET", "/api/v1/users/me", other.AccessToken, nil, nil)

	// Password change: wrong old password 401, then the other session ends.
	keep := other
	signin("password123")
	h.must(401, "POST", "/api/v1/auth/password", keep.AccessToken, map[string]any{"old_password": "nope-nope", "new_password": "new-password-1"}, nil)
	h.must(400, "POST", "/api/v1/auth/password", keep.AccessToken, map[string]any{"old_password": "password123", "new_password": "short"}, nil)
	h.must(204, "POST", "/api/v1/auth/password", keep.AccessToken, map[string]any{"old_password": "password123", "new_password": "new-password-1"}, nil)
	h.must(401, "GET", "/api/v1/users/me", other.AccessToken, nil, nil)
	h.must(401, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": other.RefreshToken}, nil)
	h.must(200, "GET", "/api/v1/users/me", keep.AccessToken, nil, nil)
	h.must(401, "POST", "/api/v1/auth/signin", "", map[string]any{"email": u.Email, "password": "password123"}, nil)

	// Sign out everywhere.
	signin("new-password-1")
	h.must(204, "POST", "/api/v1/auth/logout-all", keep.AccessToken, nil, nil)
	h.must(401, "GET", "/api/v1/users/me", keep.AccessToken, nil, nil)
	h.must(401, "GET", "/api/v1/users/me", other.AccessToken, nil, nil)
	h.must(401, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": other.RefreshToken}, nil)
}

// Look-alike emails are one account.
func TestLookAlikeEmailsAreOneAccount(t *testing.T) {
	h := newHarness(t)
	h.must(201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": "jos\u00e9@example.com", "password": "password123", "fullname": "J", "workspace": "E1"}, nil)
	h.must(409, "POST", "/api/v1/auth/signup", "", map[string]any{"email": "JOSE\u0301@example.com", "password": "password123", "fullname": "J", "workspace": "E2"}, nil)
	h.must(201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": "\uff41\uff42@example.com", "password": "password123", "fullname": "A", "workspace": "E3"}, nil)
	h.must(409, "POST", "/api/v1/auth/signup", "", map[string]any{"email": "ab@example.com", "password": "password123", "fullname": "A", "workspace": "E4"}, nil)
	h.must(200, "POST", "/api/v1/auth/signin", "", map[string]any{"email": "AB@example.com", "password": "password123"}, nil)
}

// A wrong invite code is refused before any hashing and counts as a
// failure of the address: after the free ones the address must wait.
func TestWrongInviteCodesBackOff(t *testing.T) {
	h := newHarness(t)
	owner := h.signup("Invites", nil)
	_ = owner
	for i := 0; i < 5; i++ {
		h.must(409, "POST", "/api/v1/auth/signup", "", map[string]any{"email": "x" + itoa(int64(i)) + "@example.com", "password": "password123", "fullname": "X", "workspace": "Invites", "invite_code": "guess"}, nil)
	}
	h.must(409, "POST", "/api/v1/auth/signup", "", map[string]any{"email": "y@example.com", "password": "password123", "fullname": "X", "workspace": "Invites", "invite_code": "guess"}, nil)
	r := h.must(429, "POST", "/api/v1/auth/signup", "", map[string]any{"email": "z@example.com", "password": "password123", "fullname": "X", "workspace": "Invites", "invite_code": "guess"}, nil)
	if r.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After: %v", r.header)
	}
}
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The public channel preview rule, both ways: a workspace member who has not
// joined reads a public channel's history, one message and the chat; not a
// private channel's, and nobody from another workspace. Writes still need
// membership, and the previewer is not listed among the members.
func TestPublicChannelPreview(t *testing.T) {
	h := newHarness(t)
	owner, members := h.team(1)
	visitor := members[0]
	pub := h.createChat(owner, "public_channel", "town-square")
	priv := h.createChat(owner, "private_channel", "secret")
	h.send(owner, pub.ID, "hello town")
	h.send(owner, priv.ID, "hello secret")
	outsider := h.signup("Elsewhere", nil)

	p := "/api/v1/chats/" + itoa(pub.ID)
	h.must(200, "GET", p, visitor.Token, nil, nil)
	if msgs, _ := h.messages(visitor, pub.ID, ""); len(msgs) != 1 {
		t.Fatalf("preview history: %d messages, want 1", len(msgs))
	}
	h.must(200, "GET", p+"/messages/1", visitor.Token, nil, nil)
	h.must(200, "GET", "/api/v1/search/messages?q=town&chat_id="+itoa(pub.ID), visitor.Token, nil, nil)
	for _, m := range h.members(owner, pub.ID) {
		if m.UserID == visitor.ID {
			t.Fatal("a previewer is listed among the members")
		}
	}
	// Read-only: no sends, no receipts, no typing.
	for _, w := range []struct {
		method, path string
		body         any
	}{
		{"POST", p + "/messages", map[string]any{"content": "hi"}},
		{"POST", p + "/read", map[string]any{"seq": 1}},
		{"POST", p + "/delivered", map[string]any{"seq": 1}},
		{"POST", p + "/typing", map[string]any{"is_typing": true}},
		{"PUT", p + "/messages/1/reactions/%F0%9F%91%8D", nil},
		{"DELETE", p + "/messages/1/reactions/%F0%9F%91%8D", nil},
		{"POST", p + "/messages", map[string]any{"content": "a reply", "reply_to_id": 1}},
	} {
		if r := h.do(w.method, w.path, visitor.Token, w.body); r.status != 403 {
			t.Errorf("previewer %s %s = %d, want 403 (API.md: writing needs membership)", w.method, w.path, r.status)
		}
		if r := h.do(w.method, w.path, outsider.Token, w.body); r.status != 404 {
			t.Errorf("another workspace's user %s %s = %d, want 404", w.method, w.path, r.status)
		}
	}
	if msgs, _ := h.messages(owner, pub.ID, ""); len(msgs) != 1 {
		t.Errorf("a previewer's write changed the channel: %d messages", len(msgs))
	}
	// The other way: a private channel, and another workspace, stay hidden.
	q := "/api/v1/chats/" + itoa(priv.ID)
	h.must(404, "GET", q+"/messages", visitor.Token, nil, nil)
	h.must(404, "GET", q+"/messages/1", visitor.Token, nil, nil)
	h.must(404, "GET", "/api/v1/search/messages?q=secret&chat_id="+itoa(priv.ID), visitor.Token, nil, nil)
	h.must(404, "GET", p+"/messages", outsider.Token, nil, nil)
	h.must(404, "GET", p+"/messages/1", outsider.Token, nil, nil)
	h.must(404, "GET", "/api/v1/search/messages?q=town&chat_id="+itoa(pub.ID), outsider.Token, nil, nil)
}
