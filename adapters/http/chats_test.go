package http_test

import (
	"fmt"
	"testing"
)

func TestChatLifecycle(t *testing.T) {
	h := newHarness(t)
	owner, ms := h.team(3)
	bob, carol, dave := ms[0], ms[1], ms[2]

	g := h.createChat(owner, "group", "Launch", bob)
	if g.Type != "group" || g.Name != "Launch" || g.MemberCount != 2 || g.OwnerID == nil || *g.OwnerID != owner.ID || g.WorkspaceID != owner.WorkspaceID {
		t.Fatalf("created group %+v", g)
	}
	// Direct chats: a repeat returns the same chat with 200, from either side.
	d1 := h.createChat(owner, "direct", "", bob)
	r := h.do("POST", "/api/v1/chats", bob.Token, map[string]any{"type": "direct", "member_ids": []int64{owner.ID}})
	var d2 chatJSON
	r.json(t, &d2)
	if r.status != 200 || d2.ID != d1.ID || d1.OwnerID != nil {
		t.Fatalf("repeat direct = %d %+v, first %+v", r.status, d2, d1)
	}

	// Rename: owner yes, plain member no.
	path := fmt.Sprintf("/api/v1/chats/%d", g.ID)
	var renamed chatJSON
	h.must(200, "PATCH", path, owner.Token, map[string]any{"name": "Launch v2", "description": "ship it"}, &renamed)
	if renamed.Name != "Launch v2" || renamed.Description != "ship it" {
		t.Errorf("renamed %+v", renamed)
	}
	h.must(403, "PATCH", path, bob.Token, map[string]any{"name": "mine"}, nil)

	// Members: add, promote, hand over, leave.
	var added struct{ Members []memberJSON }
	h.must(200, "POST", path+"/members", owner.Token, map[string]any{"user_ids": []int64{carol.ID, dave.ID}}, &added)
	if len(added.Members) != 4 {
		t.Fatalf("after add: %+v", added.Members)
	}
	h.must(403, "POST", path+"/members", bob.Token, map[string]any{"user_ids": []int64{carol.ID}}, nil)
	var m memberJSON
	h.must(200, "PATCH", fmt.Sprintf("%s/members/%d", path, carol.ID), owner.Token, map[string]any{"role": "admin"}, &m)
	if m.Role != "admin" {
		t.Errorf("promoted %+v", m)
	}
	// An admin removes a member but not another admin or the owner.
	h.must(204, "DELETE", fmt.Sprintf("%s/members/%d", path, dave.ID), carol.Token, nil, nil)
	h.must(403, "DELETE", fmt.Sprintf("%s/members/%d", path, owner.ID), carol.Token, nil, nil)
	// The owner cannot leave before handing over.
	h.must(409, "DELETE", fmt.Sprintf("%s/members/%d", path, owner.ID), owner.Token, nil, nil)
	h.must(200, "PATCH", fmt.Sprintf("%s/members/%d", path, bob.ID), owner.Token, map[string]any{"role": "owner"}, &m)
	roles := map[int64]string{}
	for _, mm := range h.members(bob, g.ID) {
		roles[mm.UserID] = mm.Role
	}
	if roles[bob.ID] != "owner" || roles[owner.ID] != "admin" || roles[carol.ID] != "admin" || len(roles) != 3 {
		t.Fatalf("roles after hand-over: %v", roles)
	}
	h.must(204, "DELETE", fmt.Sprintf("%s/members/%d", path, owner.ID), owner.Token, nil, nil)
	h.must(404, "GET", path, owner.Token, nil, nil) // a private chat left is gone for them

	// Only the owner deletes.
	h.must(403, "DELETE", path, carol.Token, nil, nil)
	h.must(204, "DELETE", path, bob.Token, nil, nil)
	h.must(404, "GET", path, bob.Token, nil, nil)
}

func TestListChatsShowsUnreadAndLastMessage(t *testing.T) {
	h := newHarness(t)
	owner, ms := h.team(1)
	bob := ms[0]
	a := h.createChat(owner, "group", "A", bob)
	b := h.createChat(owner, "group", "B", bob)
	h.send(owner, a.ID, "one")
	h.send(owner, a.ID, "two")
	h.send(bob, a.ID, "mine")
	h.send(owner, b.ID, "latest")

	var list struct{ Chats []chatJSON }
	h.must(200, "GET", "/api/v1/chats", bob.Token, nil, &list)
	if len(list.Chats) != 2 || list.Chats[0].ID != b.ID || list.Chats[1].ID != a.ID {
		t.Fatalf("order: %+v", list.Chats)
	}
	// Bob's own send moved his read pointer: nothing before it is unread.
	if got := list.Chats[1]; got.UnreadCount != 0 || got.LastMessage == nil || got.LastMessage.Content != "mine" || got.Role == nil || *got.Role != "member" {
		t.Errorf("chat A for bob: %+v", got)
	}
	if got := list.Chats[0]; got.UnreadCount != 1 || got.LastMessage.Content != "latest" {
		t.Errorf("chat B for bob: %+v", got)
	}
	h.must(200, "GET", "/api/v1/chats", owner.Token, nil, &list)
	if list.Chats[1].UnreadCount != 1 { // bob's "mine"
		t.Errorf("chat A for owner: %+v", list.Chats[1])
	}
}

func TestPublicChannelsCanBeJoinedPrivateOnesCannot(t *testing.T) {
	h := newHarness(t)
	owner, ms := h.team(1)
	bob := ms[0]
	pub := h.createChat(owner, "public_channel", "general")
	priv := h.createChat(owner, "private_channel", "secret")

	var seen chatJSON
	h.must(200, "GET", fmt.Sprintf("/api/v1/chats/%d", pub.ID), bob.Token, nil, &seen)
	if seen.Role != nil {
		t.Errorf("non-member sees role %v", *seen.Role)
	}
	var joined chatJSON
	h.must(200, "POST", fmt.Sprintf("/api/v1/chats/%d/join", pub.ID), bob.Token, nil, &joined)
	if joined.Role == nil || *joined.Role != "member" || joined.MemberCount != 2 {
		t.Errorf("joined %+v", joined)
	}
	h.must(200, "POST", fmt.Sprintf("/api/v1/chats/%d/join", pub.ID), bob.Token, nil, nil) // again: no change
	if n := len(h.members(owner, pub.ID)); n != 2 {
		t.Errorf("members after joining twice: %d", n)
	}
	var dir struct{ Chats []chatJSON }
	h.must(200, "GET", "/api/v1/chats/public?q=gen", bob.Token, nil, &dir)
	if len(dir.Chats) != 1 || dir.Chats[0].ID != pub.ID || dir.Chats[0].Role == nil {
		t.Errorf("public channel directory for bob: %+v", dir.Chats)
	}
	stranger := h.signup("far-away", nil)
	h.must(200, "GET", "/api/v1/chats/public", stranger.Token, nil, &dir)
	if len(dir.Chats) != 0 {
		t.Errorf("another workspace browses %+v", dir.Chats)
	}
	h.must(400, "GET", "/api/v1/chats/public?limit=0", bob.Token, nil, nil)
	h.must(404, "POST", fmt.Sprintf("/api/v1/chats/%d/join", priv.ID), bob.Token, nil, nil)
	h.must(404, "GET", fmt.Sprintf("/api/v1/chats/%d", priv.ID), bob.Token, nil, nil)
}

func TestAnotherWorkspaceSeesAndJoinsNothing(t *testing.T) {
	h := newHarness(t)
	owner, ms := h.team(1)
	bob := ms[0]
	stranger := h.signup("elsewhere", nil)
	pub := h.createChat(owner, "public_channel", "general")
	grp := h.createChat(owner, "group", "g", bob)
	h.send(owner, grp.ID, "hello")

	for _, id := range []int64{pub.ID, grp.ID} {
		p := fmt.Sprintf("/api/v1/chats/%d", id)
		h.must(404, "GET", p, stranger.Token, nil, nil)
		h.must(404, "GET", p+"/members", stranger.Token, nil, nil)
		h.must(404, "POST", p+"/join", stranger.Token, nil, nil)
		h.must(404, "GET", p+"/messages", stranger.Token, nil, nil)
		h.must(404, "POST", p+"/messages", stranger.Token, map[string]any{"content": "hi"}, nil)
	}
	// Users of another workspace can be neither chat partners nor added.
	h.must(404, "POST", "/api/v1/chats", owner.Token, map[string]any{"type": "direct", "member_ids": []int64{stranger.ID}}, nil)
	h.must(404, "POST", fmt.Sprintf("/api/v1/chats/%d/members", grp.ID), owner.Token, map[string]any{"user_ids": []int64{stranger.ID}}, nil)
	// The directory shows only one's own workspace.
	var dir struct{ Users []struct{ ID int64 } }
	h.must(200, "GET", "/api/v1/users", stranger.Token, nil, &dir)
	if len(dir.Users) != 1 || dir.Users[0].ID != stranger.ID {
		t.Errorf("stranger's directory: %+v", dir.Users)
	}
	h.must(200, "GET", "/api/v1/users?q=example&limit=10", owner.Token, nil, &dir)
	if len(dir.Users) != 2 {
		t.Errorf("owner's directory: %+v", dir.Users)
	}
	var list struct{ Chats []chatJSON }
	h.must(200, "GET", "/api/v1/chats", stranger.Token, nil, &list)
	if len(list.Chats) != 0 {
		t.Errorf("stranger lists %+v", list.Chats)
	}
}
