package bootstrap

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/ports/porttest"
)

// TestSearchByFileAndMentionNames is issue 14's search on a real server
// (Postgres, NATS, the indexer, Bleve): a message is found by its
// attachments' file names and by the names of the people it mentions, in
// the searcher's chats only; an edit that drops a mention and a delete are
// indexed; the answer says what matched (matched_in, checked against
// openapi.json by the server's client).
func TestSearchByFileAndMentionNames(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ws := porttest.Unique("ws-")
	var alice, bob, carol session
	s.call(t, 201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": porttest.Unique("alice") + "@x.test",
		"password": "correct-horse", "fullname": "Alice Archer", "workspace": ws}, &alice)
	var inv struct{ Code string }
	s.call(t, 201, "POST", "/api/v1/workspace/invites", alice.AccessToken, map[string]any{"max_uses": 5}, &inv)
	bobHandle := porttest.Unique("bobby")
	s.call(t, 201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": bobHandle + "@x.test",
		"password": "correct-horse", "fullname": "Robert Builder", "workspace": ws, "invite_code": inv.Code}, &bob)
	s.call(t, 201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": porttest.Unique("carol") + "@x.test",
		"password": "correct-horse", "fullname": "Carol Danvers", "workspace": ws, "invite_code": inv.Code}, &carol)

	var withBob, withCarol struct{ ID int64 }
	s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "group", "name": "q3", "member_ids": []int64{bob.User.ID}}, &withBob)
	s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "group", "name": "other", "member_ids": []int64{carol.User.ID}}, &withCarol)

	send := func(chatID int64, body map[string]any) api.Message {
		t.Helper()
		var m api.Message
		s.call(t, 201, "POST", fmt.Sprintf("/api/v1/chats/%d/messages", chatID), alice.AccessToken, body, &m)
		return m
	}
	attach := func(name string) int64 {
		t.Helper()
		status, raw := s.upload(t, alice.AccessToken, name, strings.NewReader("revenue went up"))
		if status != 201 {
			t.Fatalf("upload %s = %d %s", name, status, raw)
		}
		var f api.File
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("upload answer %s: %v", raw, err)
		}
		return f.ID
	}
	report := send(withBob.ID, map[string]any{"content": "numbers for the board", "attachment_ids": []int64{attach("quarterly-report.pdf")}})
	elsewhere := send(withCarol.ID, map[string]any{"content": "", "attachment_ids": []int64{attach("quarterly-report.pdf")}})
	mention := send(withBob.ID, map[string]any{"content": fmt.Sprintf("<@%d> can you check the totals?", bob.User.ID)})
	if !slices.Equal(mention.Mentions, []int64{bob.User.ID}) {
		t.Fatalf("mentions = %v", mention.Mentions)
	}

	search := func(who session, q string) api.SearchResults {
		t.Helper()
		var res api.SearchResults
		s.call(t, 200, "GET", "/api/v1/search/messages?q="+url.QueryEscape(q), who.AccessToken, nil, &res)
		return res
	}
	ids := func(res api.SearchResults) []int64 {
		var out []int64
		for _, h := range res.Hits {
			out = append(out, h.Message.ID)
		}
		slices.Sort(out)
		return out
	}
	var res api.SearchResults
	porttest.Eventually(t, 20*time.Second, "bob to find the report by its file name", func() bool {
		res = search(bob, "quarterly-report")
		return slices.Equal(ids(res), []int64{report.ID})
	})
	h := res.Hits[0]
	if !slices.Equal(h.MatchedIn, []string{"attachments"}) || !strings.Contains(h.Highlight, "<mark>") || !strings.Contains(h.Highlight, ".pdf") {
		t.Errorf("hit by file name: matched_in %v, highlight %q", h.MatchedIn, h.Highlight)
	}
	if len(h.Message.Attachments) != 1 || h.Message.Attachments[0].Name != "quarterly-report.pdf" || h.Message.Attachments[0].URL == "" {
		t.Errorf("the hit's message lacks its signed attachment: %+v", h.Message.Attachments)
	}
	porttest.Eventually(t, 20*time.Second, "carol to find only her chat's file", func() bool {
		return slices.Equal(ids(search(carol, "quarterly-report.pdf")), []int64{elsewhere.ID})
	})

	for _, q := range []string{"Robert", "builder", bobHandle} {
		porttest.Eventually(t, 20*time.Second, "bob to find his mention by "+q, func() bool {
			res = search(bob, q)
			return slices.Equal(ids(res), []int64{mention.ID})
		})
		if h := res.Hits[0]; !slices.Equal(h.MatchedIn, []string{"mentions"}) {
			t.Errorf("%q: matched_in %v, want [mentions]", q, h.MatchedIn)
		}
	}
	if got := ids(search(carol, "Robert")); len(got) != 0 {
		t.Errorf("carol, not in the chat, finds the mention: %v", got)
	}
	if res := search(bob, "totals"); len(res.Hits) != 1 || !slices.Equal(res.Hits[0].MatchedIn, []string{"content"}) {
		t.Errorf("content search: %+v", res.Hits)
	}

	// Editing drops the mention: the name no longer finds it, the text does.
	s.call(t, 200, "PATCH", fmt.Sprintf("/api/v1/chats/%d/messages/%d", withBob.ID, mention.Seq), alice.AccessToken,
		map[string]any{"content": "can someone check the totals?"}, nil)
	porttest.Eventually(t, 20*time.Second, "the edit to be indexed", func() bool {
		return len(search(bob, "builder").Hits) == 0 && len(search(bob, "someone").Hits) == 1
	})
	// Bob renames himself: the messages that mentioned him before are
	// indexed again, found by the new name, no longer by the old.
	again := send(withBob.ID, map[string]any{"content": fmt.Sprintf("<@%d> ping", bob.User.ID)})
	porttest.Eventually(t, 20*time.Second, "the new mention to be indexed", func() bool {
		return slices.Equal(ids(search(bob, "Robert")), []int64{again.ID})
	})
	s.call(t, 200, "PATCH", "/api/v1/users/me", bob.AccessToken, map[string]any{"fullname": "Bobby Tables"}, nil)
	porttest.Eventually(t, 20*time.Second, "the rename to be indexed", func() bool {
		return slices.Equal(ids(search(alice, "Tables")), []int64{again.ID}) && len(search(alice, "Robert").Hits) == 0
	})
	// Deleting the message: its file name no longer finds it.
	s.call(t, 204, "DELETE", fmt.Sprintf("/api/v1/chats/%d/messages/%d", withBob.ID, report.Seq), alice.AccessToken, nil, nil)
	porttest.Eventually(t, 20*time.Second, "the delete to be indexed", func() bool {
		return len(search(bob, "quarterly-report").Hits) == 0
	})
}

// TestEditKeepsWhatTheMessageCarries: an edit's answer and its
// message.updated frame are the whole message (attachments with fresh
// links, reactions, thread fields, the mentions re-computed), so a client
// that replaces its copy keeps them.
func TestEditKeepsWhatTheMessageCarries(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	alice, bob := s.pair(t)
	var chat struct{ ID int64 }
	s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "group", "name": "e", "member_ids": []int64{bob.User.ID}}, &chat)
	status, raw := s.upload(t, alice.AccessToken, "plan.txt", strings.NewReader("the plan"))
	var f api.File
	if status != 201 || json.Unmarshal(raw, &f) != nil {
		t.Fatalf("upload = %d %s", status, raw)
	}
	msgs := fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID)
	var m api.Message
	s.call(t, 201, "POST", msgs, alice.AccessToken, map[string]any{"content": "draft", "attachment_ids": []int64{f.ID}}, &m)
	s.call(t, 200, "PUT", fmt.Sprintf("%s/%d/reactions/%s", msgs, m.Seq, url.PathEscape("👍")), bob.AccessToken, nil, nil)
	s.call(t, 201, "POST", msgs, bob.AccessToken, map[string]any{"content": "ok", "reply_to_id": m.ID}, nil)

	wsURL := strings.Replace(s.base, "http://", "ws://", 1) + "/api/v1/ws?platform=test&access_token=" + bob.AccessToken
	conn := dialFeatureWS(t, wsURL)
	waitFrame(t, conn, "hello")
	var edited api.Message
	s.call(t, 200, "PATCH", fmt.Sprintf("%s/%d", msgs, m.Seq), alice.AccessToken,
		map[string]any{"content": fmt.Sprintf("final, <@%d>", bob.User.ID)}, &edited)
	var framed api.Message
	for framed.ID != m.ID {
		if err := json.Unmarshal(waitFrame(t, conn, "message.updated"), &framed); err != nil {
			t.Fatal(err)
		}
	}
	for what, got := range map[string]api.Message{"PATCH answer": edited, "message.updated": framed} {
		if got.Content != "final, <@"+fmt.Sprint(bob.User.ID)+">" || got.EditedAt == nil ||
			!slices.Equal(got.Mentions, []int64{bob.User.ID}) ||
			len(got.Attachments) != 1 || got.Attachments[0].ID != f.ID || got.Attachments[0].URL == "" ||
			len(got.Reactions) != 1 || got.Reactions[0].Count != 1 ||
			got.ReplyCount != 1 || got.LastReplyAt == nil {
			t.Errorf("%s = %+v: want the new text and mention with the file, the reaction and the reply kept", what, got)
		}
	}
	if resp, _ := s.get(t, edited.Attachments[0].URL, nil); resp.StatusCode != 200 {
		t.Errorf("the edited message's file link = %d", resp.StatusCode)
	}
}

// A server whose search index is new (a second instance, a container
// that lost its volume) fills it from Postgres at start: the stream its
// consumer replays holds only its last days (and here, a fresh embedded
// NATS, nothing), yet messages sent before it existed are found.
func TestANewSearchIndexIsFilledFromTheDatabase(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	first := startServer(t, "DATABASE_URL="+dsn) // each with its own data dir: index and NATS
	email := porttest.Unique("alice") + "@x.test"
	var alice session
	first.call(t, 201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": email,
		"password": "correct-horse", "fullname": "Alice Archer", "workspace": porttest.Unique("ws-")}, &alice)
	var chat struct{ ID int64 }
	first.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "public_channel", "name": "notes"}, &chat)
	var m api.Message
	first.call(t, 201, "POST", fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID), alice.AccessToken,
		map[string]any{"content": "the zanzibar shipment is late"}, &m)
	first.stop()

	second := startServer(t, "DATABASE_URL="+dsn)
	var again session
	second.call(t, 200, "POST", "/api/v1/auth/signin", "", map[string]any{"email": email, "password": "correct-horse"}, &again)
	porttest.Eventually(t, 30*time.Second, "the old message found on the new index", func() bool {
		var res api.SearchResults
		second.call(t, 200, "GET", "/api/v1/search/messages?q=zanzibar", again.AccessToken, nil, &res)
		return len(res.Hits) == 1 && res.Hits[0].Message.ID == m.ID
	})
}
