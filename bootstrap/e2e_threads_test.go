package bootstrap

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/fechatter/fechatter/adapters/imaging/imagingtest"
)

type msgJSON struct {
	ID           int64      `json:"id"`
	Seq          int64      `json:"seq"`
	Content      string     `json:"content"`
	Mentions     []int64    `json:"mentions"`
	MentionsAll  bool       `json:"mentions_all"`
	ThreadRootID *int64     `json:"thread_root_id"`
	ReplyCount   int        `json:"reply_count"`
	LastReplyAt  *string    `json:"last_reply_at"`
	Attachments  []fileJSON `json:"attachments"`
}

// TestMentionsThreadsAndAttachmentsOnARealServer sends through the
// group-commit writer with mentions, replies and files, and reads them
// back through every route that shows them.
func TestMentionsThreadsAndAttachmentsOnARealServer(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	alice, bob := s.pair(t)
	oscar := s.outsider(t)
	var chat struct{ ID int64 }
	s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "group", "name": "t", "member_ids": []int64{bob.User.ID}}, &chat)
	msgs := fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID)

	// Mentions: members only, each once, in order; <!all>.
	var m1 msgJSON
	s.call(t, 201, "POST", msgs, alice.AccessToken, map[string]any{"content": fmt.Sprintf("hi <@%d> and <@%d> and <@%d> <@%d>",
		bob.User.ID, oscar.User.ID, bob.User.ID, alice.User.ID)}, &m1)
	if len(m1.Mentions) != 2 || m1.Mentions[0] != bob.User.ID || m1.Mentions[1] != alice.User.ID || m1.MentionsAll {
		t.Fatalf("mentions = %v %v, want [bob alice] (oscar is no member)", m1.Mentions, m1.MentionsAll)
	}
	var m2 msgJSON
	s.call(t, 201, "POST", msgs, alice.AccessToken, map[string]any{"content": "<!all> standup"}, &m2)
	if !m2.MentionsAll {
		t.Fatalf("<!all> not seen: %+v", m2)
	}
	s.call(t, 201, "POST", msgs, alice.AccessToken, map[string]any{"content": "no mention"}, nil)
	var chats struct {
		Chats []struct {
			UnreadCount  int64 `json:"unread_count"`
			MentionCount int64 `json:"mention_count"`
		} `json:"chats"`
	}
	s.call(t, 200, "GET", "/api/v1/chats", bob.AccessToken, nil, &chats)
	if len(chats.Chats) != 1 || chats.Chats[0].UnreadCount != 3 || chats.Chats[0].MentionCount != 2 {
		t.Fatalf("bob's counts = %+v, want unread 3 mention 2", chats)
	}
	var feed struct {
		Messages []msgJSON `json:"messages"`
		HasMore  bool      `json:"has_more"`
	}
	s.call(t, 200, "GET", "/api/v1/mentions", bob.AccessToken, nil, &feed)
	if len(feed.Messages) != 2 || feed.Messages[0].ID != m2.ID || feed.Messages[1].ID != m1.ID {
		t.Fatalf("bob's mentions = %+v", feed)
	}
	s.call(t, 200, "GET", fmt.Sprintf("/api/v1/mentions?limit=1&before_id=%d", m2.ID), bob.AccessToken, nil, &feed)
	if len(feed.Messages) != 1 || feed.Messages[0].ID != m1.ID {
		t.Fatalf("mentions page 2 = %+v", feed)
	}
	s.call(t, 400, "GET", "/api/v1/mentions?limit=0", bob.AccessToken, nil, nil)
	s.call(t, 200, "GET", "/api/v1/mentions", oscar.AccessToken, nil, &feed)
	if len(feed.Messages) != 0 {
		t.Fatalf("oscar sees %+v", feed)
	}
	// Editing recomputes; reading moves mention_count with unread_count.
	var edited msgJSON
	s.call(t, 200, "PATCH", fmt.Sprintf("%s/%d", msgs, m1.Seq), alice.AccessToken, map[string]any{"content": "never mind"}, &edited)
	if len(edited.Mentions) != 0 {
		t.Fatalf("edited mentions = %v", edited.Mentions)
	}
	s.call(t, 200, "GET", "/api/v1/chats", bob.AccessToken, nil, &chats)
	if chats.Chats[0].MentionCount != 1 {
		t.Fatalf("after edit mention_count = %d", chats.Chats[0].MentionCount)
	}

	// Threads: a reply to a reply has the root's id; counts follow deletes.
	var r1, r2 msgJSON
	s.call(t, 201, "POST", msgs, bob.AccessToken, map[string]any{"content": "reply one", "reply_to_id": m2.ID}, &r1)
	s.call(t, 201, "POST", msgs, alice.AccessToken, map[string]any{"content": "reply two", "reply_to_id": r1.ID}, &r2)
	if r1.ThreadRootID == nil || *r1.ThreadRootID != m2.ID || r2.ThreadRootID == nil || *r2.ThreadRootID != m2.ID {
		t.Fatalf("thread roots %v %v, want %d", r1.ThreadRootID, r2.ThreadRootID, m2.ID)
	}
	var root msgJSON
	s.call(t, 200, "GET", fmt.Sprintf("%s/%d", msgs, m2.Seq), bob.AccessToken, nil, &root)
	if root.ReplyCount != 2 || root.LastReplyAt == nil || root.ThreadRootID != nil {
		t.Fatalf("root = %+v", root)
	}
	var replies struct {
		Messages []msgJSON `json:"messages"`
	}
	s.call(t, 200, "GET", fmt.Sprintf("%s/%d/replies", msgs, m2.Seq), bob.AccessToken, nil, &replies)
	if len(replies.Messages) != 2 || replies.Messages[0].ID != r1.ID || replies.Messages[1].ID != r2.ID {
		t.Fatalf("replies = %+v", replies)
	}
	s.call(t, 200, "GET", fmt.Sprintf("%s/%d/replies?after_seq=%d", msgs, m2.Seq, r1.Seq), bob.AccessToken, nil, &replies)
	if len(replies.Messages) != 1 || replies.Messages[0].ID != r2.ID {
		t.Fatalf("replies after r1 = %+v", replies)
	}
	s.call(t, 404, "GET", fmt.Sprintf("%s/%d/replies", msgs, m2.Seq), oscar.AccessToken, nil, nil)
	s.call(t, 404, "GET", fmt.Sprintf("%s/999/replies", msgs), bob.AccessToken, nil, nil)
	// Watch thread.updated while Alice deletes her reply.
	wsURL := strings.Replace(s.base, "http://", "ws://", 1) + "/api/v1/ws?platform=test&access_token=" + bob.AccessToken
	conn := dialFeatureWS(t, wsURL)
	waitFrame(t, conn, "hello")
	s.call(t, 204, "DELETE", fmt.Sprintf("%s/%d", msgs, r2.Seq), alice.AccessToken, nil, nil)
	var tu struct {
		ChatID     int64 `json:"chat_id"`
		RootID     int64 `json:"root_id"`
		RootSeq    int64 `json:"root_seq"`
		ReplyCount int   `json:"reply_count"`
	}
	// The replies' own thread.updated may still be on their way: the
	// delete's is the one that counts 1.
	for tu.ReplyCount != 1 {
		if err := json.Unmarshal(waitFrame(t, conn, "thread.updated"), &tu); err != nil || tu.RootID != m2.ID || tu.RootSeq != m2.Seq || tu.ChatID != chat.ID {
			t.Fatalf("thread.updated = %+v %v", tu, err)
		}
	}
	s.call(t, 200, "GET", fmt.Sprintf("%s/%d", msgs, m2.Seq), bob.AccessToken, nil, &root)
	if root.ReplyCount != 1 {
		t.Fatalf("after delete reply_count = %d", root.ReplyCount)
	}
	// A reply to a message of another chat, or to none: 400.
	var other struct{ ID int64 }
	s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "direct", "member_ids": []int64{bob.User.ID}}, &other)
	var elsewhere msgJSON
	s.call(t, 201, "POST", fmt.Sprintf("/api/v1/chats/%d/messages", other.ID), alice.AccessToken, map[string]any{"content": "dm"}, &elsewhere)
	s.call(t, 400, "POST", msgs, alice.AccessToken, map[string]any{"content": "x", "reply_to_id": elsewhere.ID}, nil)
	s.call(t, 400, "POST", msgs, alice.AccessToken, map[string]any{"content": "x", "reply_to_id": 99999999}, nil)

	// Attachments: Alice's file on her message; Bob may read it then.
	status, raw := s.upload(t, alice.AccessToken, "pic.png", strings.NewReader(string(imagingtest.PNG(t, 50, 40))))
	var f fileJSON
	if status != 201 || json.Unmarshal(raw, &f) != nil {
		t.Fatalf("upload = %d %s", status, raw)
	}
	s.call(t, 404, "GET", fmt.Sprintf("/api/v1/files/%d", f.ID), bob.AccessToken, nil, nil)
	// Bad attachment lists change nothing.
	s.call(t, 400, "POST", msgs, alice.AccessToken, map[string]any{"content": "", "attachment_ids": []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}, nil)
	s.call(t, 400, "POST", msgs, alice.AccessToken, map[string]any{"content": "", "attachment_ids": []int64{f.ID, f.ID}}, nil)
	s.call(t, 404, "POST", msgs, bob.AccessToken, map[string]any{"content": "mine now", "attachment_ids": []int64{f.ID}}, nil)
	var withFile msgJSON
	s.call(t, 201, "POST", msgs, alice.AccessToken, map[string]any{"content": "", "attachment_ids": []int64{f.ID}}, &withFile)
	if len(withFile.Attachments) != 1 || withFile.Attachments[0].ID != f.ID || withFile.Attachments[0].URL == "" || withFile.Content != "" {
		t.Fatalf("message with file = %+v", withFile)
	}
	s.call(t, 409, "POST", msgs, alice.AccessToken, map[string]any{"content": "again", "attachment_ids": []int64{f.ID}}, nil)
	var seen fileJSON
	s.call(t, 200, "GET", fmt.Sprintf("/api/v1/files/%d", f.ID), bob.AccessToken, nil, &seen)
	s.call(t, 404, "GET", fmt.Sprintf("/api/v1/files/%d", f.ID), oscar.AccessToken, nil, nil)
	var page struct {
		Messages []msgJSON `json:"messages"`
	}
	s.call(t, 200, "GET", msgs+"?limit=1", bob.AccessToken, nil, &page)
	if len(page.Messages) != 1 || len(page.Messages[0].Attachments) != 1 || page.Messages[0].Attachments[0].URL == "" {
		t.Fatalf("history = %+v", page)
	}
	if resp, _ := s.get(t, page.Messages[0].Attachments[0].URL, nil); resp.StatusCode != 200 {
		t.Fatalf("attachment link = %d", resp.StatusCode)
	}
	// Deleting the message deletes the file's bytes: its links answer 404.
	link := seen.URL
	s.call(t, 204, "DELETE", fmt.Sprintf("%s/%d", msgs, withFile.Seq), alice.AccessToken, nil, nil)
	if resp, _ := s.get(t, link, nil); resp.StatusCode != 404 {
		t.Fatalf("link after delete = %d", resp.StatusCode)
	}
	s.call(t, 404, "GET", fmt.Sprintf("/api/v1/files/%d", f.ID), alice.AccessToken, nil, nil)
	_ = url.PathEscape
}
