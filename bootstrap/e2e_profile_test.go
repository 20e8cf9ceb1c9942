package bootstrap

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/fechatter/fechatter/adapters/imaging/imagingtest"
)

// TestProfilesOnARealServer: PATCH /users/me with a name and an avatar,
// user.updated to a chat partner, and the refusals.
func TestProfilesOnARealServer(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	alice, bob := s.pair(t)
	s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "direct", "member_ids": []int64{bob.User.ID}}, nil)
	conn := dialFeatureWS(t, strings.Replace(s.base, "http://", "ws://", 1)+"/api/v1/ws?platform=test&access_token="+bob.AccessToken)
	waitFrame(t, conn, "hello")

	status, raw := s.upload(t, alice.AccessToken, "me.png", strings.NewReader(string(imagingtest.PNG(t, 400, 400))))
	var pic fileJSON
	if status != 201 || json.Unmarshal(raw, &pic) != nil {
		t.Fatalf("upload = %d %s", status, raw)
	}
	status, raw = s.upload(t, alice.AccessToken, "notes.txt", strings.NewReader("plain text"))
	var txt fileJSON
	if status != 201 || json.Unmarshal(raw, &txt) != nil {
		t.Fatalf("upload = %d %s", status, raw)
	}
	status, raw = s.upload(t, bob.AccessToken, "bob.png", strings.NewReader(string(imagingtest.PNG(t, 10, 10))))
	var bobs fileJSON
	if status != 201 || json.Unmarshal(raw, &bobs) != nil {
		t.Fatalf("upload = %d %s", status, raw)
	}
	// Refusals change nothing.
	s.call(t, 400, "PATCH", "/api/v1/users/me", alice.AccessToken, map[string]any{"fullname": "   "}, nil)
	s.call(t, 400, "PATCH", "/api/v1/users/me", alice.AccessToken, map[string]any{}, nil)
	s.call(t, 400, "PATCH", "/api/v1/users/me", alice.AccessToken, map[string]any{"avatar_file_id": txt.ID}, nil)
	s.call(t, 404, "PATCH", "/api/v1/users/me", alice.AccessToken, map[string]any{"avatar_file_id": bobs.ID}, nil)
	s.call(t, 404, "PATCH", "/api/v1/users/me", alice.AccessToken, map[string]any{"avatar_file_id": 99999999}, nil)

	type userJSON struct {
		ID        int64   `json:"id"`
		Fullname  string  `json:"fullname"`
		AvatarURL *string `json:"avatar_url"`
	}
	var me userJSON
	s.call(t, 200, "GET", "/api/v1/users/me", alice.AccessToken, nil, &me)
	if me.Fullname != "Alice" || me.AvatarURL != nil {
		t.Fatalf("before = %+v", me)
	}
	s.call(t, 200, "PATCH", "/api/v1/users/me", alice.AccessToken, map[string]any{"fullname": "Alice Liddell", "avatar_file_id": pic.ID}, &me)
	if me.Fullname != "Alice Liddell" || me.AvatarURL == nil || !strings.Contains(*me.AvatarURL, fmt.Sprintf("/files/%d/thumbnail", pic.ID)) {
		t.Fatalf("after = %+v", me)
	}
	if resp, _ := s.get(t, *me.AvatarURL, nil); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("avatar link = %d", resp.StatusCode)
	}
	var ev userJSON
	if err := json.Unmarshal(waitFrame(t, conn, "user.updated"), &ev); err != nil || ev.ID != alice.User.ID || ev.Fullname != "Alice Liddell" || ev.AvatarURL == nil {
		t.Fatalf("user.updated = %+v %v", ev, err)
	}
	var dir struct{ Users []userJSON }
	s.call(t, 200, "GET", "/api/v1/users?q=Liddell", bob.AccessToken, nil, &dir)
	if len(dir.Users) != 1 || dir.Users[0].AvatarURL == nil {
		t.Fatalf("directory = %+v", dir)
	}
	// An avatar is no orphan, and Bob (same workspace) may read its metadata.
	s.call(t, 200, "GET", fmt.Sprintf("/api/v1/files/%d", pic.ID), bob.AccessToken, nil, nil)
	// 0 removes it.
	s.call(t, 200, "PATCH", "/api/v1/users/me", alice.AccessToken, map[string]any{"avatar_file_id": 0}, &me)
	if me.AvatarURL != nil || me.Fullname != "Alice Liddell" {
		t.Fatalf("removed = %+v", me)
	}
}
