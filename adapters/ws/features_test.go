package ws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
)

// user.updated is recorded once per chat the user is in; a connection
// that shares several of those chats with the user gets it once, and one
// that shares a single chat gets it too.
func TestUserUpdatedOncePerConnection(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	s := e.start(bus, serverOptions{})
	us := e.users(3)
	alice, bob, carol := us[0], us[1], us[2]
	e.group(alice, bob)
	second, third := e.group(alice, bob, carol), e.group(alice, bob)

	bobConn := dial(t, s, bob, "bob", dialOptions{})
	bobConn.hello()
	bobPhone := dial(t, s, e.signIn(bob), "bob's phone", dialOptions{})
	bobPhone.hello()
	carolConn := dial(t, s, carol, "carol", dialOptions{})
	carolConn.hello()

	for i, name := range []string{"Alice Liddell", "Alice Kingsleigh"} {
		n := name
		if _, err := e.app.Commands.UpdateProfile.Handle(context.Background(), command.UpdateProfile{Actor: alice.actor(), Fullname: &n}); err != nil {
			t.Fatalf("update profile: %v", err)
		}
		// A message sent after the update, in the last chat, comes after
		// every copy of it: once it is there, no copy is still on its way.
		m := e.send(alice, third.ID, "marker")
		for _, c := range []*client{bobConn, bobPhone} {
			c.waitFor("the marker", isCreated(third.ID, m.Seq))
		}
		m = e.send(alice, second.ID, "marker")
		carolConn.waitFor("the marker", isCreated(second.ID, m.Seq))
		for _, c := range []*client{bobConn, bobPhone, carolConn} {
			got := c.count(isUserUpdated(alice.ID, name))
			if got != 1 {
				t.Errorf("update %d: %s got user.updated %d times, want once (%s)", i+1, c.name, got, c.describe())
			}
		}
	}
}

func isUserUpdated(userID int64, fullname string) func(frame) bool {
	return func(f frame) bool {
		if f.Type != "user.updated" {
			return false
		}
		var u struct {
			ID       int64  `json:"id"`
			Fullname string `json:"fullname"`
		}
		return json.Unmarshal(f.Data, &u) == nil && u.ID == userID && u.Fullname == fullname
	}
}

func (e *env) upload(u user, name, body string) query.File {
	e.t.Helper()
	f, err := e.app.Commands.UploadFile.Handle(context.Background(), command.UploadFile{Actor: u.actor(), Name: name, Body: strings.NewReader(body)})
	if err != nil {
		e.t.Fatalf("upload: %v", err)
	}
	return f
}

// message.send with files, mentions and a reply over the WebSocket: the
// ack and every member's message.created carry them, the root's members
// get thread.updated, a reaction reaches them as reaction.updated; bad
// attachment lists, someone else's file, a file attached already, a reply
// into another chat and a chat the sender is not in get error frames with
// REST's codes and change nothing.
func TestSendWithFilesMentionsAndRepliesOverWebSocket(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	s := e.start(bus, serverOptions{})
	us := e.users(3)
	alice, bob, oscar := us[0], us[1], us[2]
	g := e.group(alice, bob)
	elsewhere := e.group(oscar, bob)
	away := e.send(oscar, elsewhere.ID, "not in alice's chat")
	a := dial(t, s, alice, "alice", dialOptions{})
	a.hello()
	b := dial(t, s, bob, "bob", dialOptions{})
	b.hello()

	pic := e.upload(alice, "team-photo.png", "not an image, any bytes")
	bobs := e.upload(bob, "bobs.txt", "bob's")
	a.write(map[string]any{"type": "message.send", "ref": "ok", "chat_id": g.ID,
		"content": fmt.Sprintf("<@%d> <@%d> look", bob.ID, oscar.ID), "attachment_ids": []int64{pic.ID}})
	var ack struct {
		Message query.Message `json:"message"`
	}
	a.waitFor("ack ok", isAck("ok")).decode(t, &ack)
	m := ack.Message
	if !slices.Equal(m.Mentions, []int64{bob.ID}) || len(m.Attachments) != 1 || m.Attachments[0].ID != pic.ID || m.Attachments[0].URL == "" {
		t.Fatalf("ack message %+v: want bob mentioned (oscar is no member) and the file with a link", m)
	}
	var created query.Message
	b.waitFor("bob's message.created", isCreated(g.ID, m.Seq)).decode(t, &created)
	if !slices.Equal(created.Mentions, []int64{bob.ID}) || len(created.Attachments) != 1 || created.Attachments[0].Name != "team-photo.png" {
		t.Errorf("bob's message.created %+v lacks the mention or the file", created)
	}

	b.write(map[string]any{"type": "message.send", "ref": "reply", "chat_id": g.ID, "content": "nice", "reply_to_id": m.ID})
	var reply struct {
		Message query.Message `json:"message"`
	}
	b.waitFor("ack reply", isAck("reply")).decode(t, &reply)
	if reply.Message.ThreadRootID == nil || *reply.Message.ThreadRootID != m.ID {
		t.Fatalf("reply %+v, want thread_root_id %d", reply.Message, m.ID)
	}
	var th struct {
		ChatID      int64   `json:"chat_id"`
		RootID      int64   `json:"root_id"`
		RootSeq     int64   `json:"root_seq"`
		ReplyCount  int     `json:"reply_count"`
		LastReplyAt *string `json:"last_reply_at"`
	}
	a.waitFor("thread.updated", isType("thread.updated")).decode(t, &th)
	if th.ChatID != g.ID || th.RootID != m.ID || th.RootSeq != m.Seq || th.ReplyCount != 1 || th.LastReplyAt == nil {
		t.Errorf("thread.updated %+v, want root %d seq %d with 1 reply", th, m.ID, m.Seq)
	}
	got, err := e.app.Queries.GetMessage.Handle(context.Background(), query.Viewer{UserID: alice.ID, WorkspaceID: alice.WorkspaceID}, g.ID, m.Seq)
	if err != nil || got.ReplyCount != 1 {
		t.Errorf("root after the reply: %+v, %v; want reply_count 1", got, err)
	}

	if _, err := e.app.Commands.React.Handle(context.Background(), command.React{Actor: bob.actor(), ChatID: g.ID, Seq: m.Seq, Emoji: "🎉", Add: true}); err != nil {
		t.Fatalf("react: %v", err)
	}
	var ru struct {
		ChatID    int64  `json:"chat_id"`
		Seq       int64  `json:"seq"`
		MessageID int64  `json:"message_id"`
		Emoji     string `json:"emoji"`
		UserID    int64  `json:"user_id"`
		Added     bool   `json:"added"`
		Count     int    `json:"count"`
	}
	a.waitFor("reaction.updated", isType("reaction.updated")).decode(t, &ru)
	if ru.ChatID != g.ID || ru.Seq != m.Seq || ru.MessageID != m.ID || ru.Emoji != "🎉" || ru.UserID != bob.ID || !ru.Added || ru.Count != 1 {
		t.Errorf("reaction.updated %+v", ru)
	}

	eleven := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	fresh := e.upload(alice, "fresh.txt", "fresh")
	for _, tc := range []struct {
		ref, code string
		frame     map[string]any
	}{
		{"eleven", "invalid_argument", map[string]any{"chat_id": g.ID, "content": "", "attachment_ids": eleven}},
		{"twice", "invalid_argument", map[string]any{"chat_id": g.ID, "content": "", "attachment_ids": []int64{fresh.ID, fresh.ID}}},
		{"bobs", "not_found", map[string]any{"chat_id": g.ID, "content": "", "attachment_ids": []int64{bobs.ID}}},
		{"taken", "conflict", map[string]any{"chat_id": g.ID, "content": "again", "attachment_ids": []int64{pic.ID}}},
		{"no-files-no-text", "invalid_argument", map[string]any{"chat_id": g.ID, "content": ""}},
		{"reply-elsewhere", "invalid_argument", map[string]any{"chat_id": g.ID, "content": "x", "reply_to_id": away.ID}},
		{"not-a-member", "not_found", map[string]any{"chat_id": elsewhere.ID, "content": "let me in", "attachment_ids": []int64{fresh.ID}}},
	} {
		f := map[string]any{"type": "message.send", "ref": tc.ref}
		for k, v := range tc.frame {
			f[k] = v
		}
		a.write(f)
		var d errorData
		a.waitFor("error "+tc.ref, func(f frame) bool {
			return f.Type == "error" && strings.Contains(string(f.Data), `"ref":"`+tc.ref+`"`)
		}).decode(t, &d)
		if d.Code != tc.code || d.Message == "" {
			t.Errorf("%s: error %+v, want %s", tc.ref, d, tc.code)
		}
	}
	// Nothing changed: the chat holds the two messages, the fresh file is
	// still unattached (alice may still send it).
	if c, err := e.app.Queries.GetChat.Handle(context.Background(), query.Viewer{UserID: alice.ID, WorkspaceID: alice.WorkspaceID}, g.ID); err != nil || c.LastSeq != 2 {
		t.Errorf("after the refused sends: %+v, %v; want last_seq 2", c, err)
	}
	a.write(map[string]any{"type": "message.send", "ref": "fresh", "chat_id": g.ID, "content": "", "attachment_ids": []int64{fresh.ID}})
	a.waitFor("ack fresh", isAck("fresh"))
}
