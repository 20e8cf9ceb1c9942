package querytest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/domain/receipt"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

// RunThreadsAndMentions checks issue 14's threads and mentions across the
// ports that keep them: replies sent through Env.Sender join their root's
// thread (a reply to a reply included) and count on the root
// (reply_count, last_reply_at in Env.MessageReads); Env.Threads recounts a
// root after a reply is deleted; Env.ThreadReads pages a thread's replies
// and a user's mentions; the sender keeps only members' mentions; Env.ChatReads
// counts unread mentions (mention_count). newEnv is called once per case.
func RunThreadsAndMentions(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()
	send := func(t *testing.T, env Env, chatID, senderID int64, content string, replyTo int64, at time.Time) *message.Message {
		t.Helper()
		m, err := message.New(chatID, senderID, content, "", replyTo, at)
		if err != nil {
			t.Fatalf("message.New: %v", err)
		}
		sent, err := env.Sender.Send(ctx, m, func(*message.Message) []ports.Event { return nil })
		if err != nil {
			t.Fatalf("Send %q: %v", content, err)
		}
		return sent.Message
	}
	remove := func(t *testing.T, env Env, m *message.Message, at time.Time) {
		t.Helper()
		if err := m.Delete(m.SenderID(), false, at); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		err := env.Tx.InTx(ctx, func(ctx context.Context) error {
			if err := env.Messages.Save(ctx, m); err != nil {
				return err
			}
			if root := m.ThreadRootID(); root != 0 {
				_, err := env.Threads.Recount(ctx, root)
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatalf("delete message %d: %v", m.ID(), err)
		}
	}
	bySeq := func(t *testing.T, env Env, chatID, seq int64) query.Message {
		t.Helper()
		m, err := env.MessageReads.MessageBySeq(ctx, chatID, seq)
		if err != nil {
			t.Fatalf("MessageBySeq(%d): %v", seq, err)
		}
		return m
	}
	checkThread := func(t *testing.T, what string, got query.Message, count int, last time.Time) {
		t.Helper()
		if got.ReplyCount != count {
			t.Errorf("%s: reply_count %d, want %d", what, got.ReplyCount, count)
		}
		switch {
		case last.IsZero() && got.LastReplyAt != nil:
			t.Errorf("%s: last_reply_at %v, want null", what, *got.LastReplyAt)
		case !last.IsZero() && (got.LastReplyAt == nil || !got.LastReplyAt.Equal(last)):
			t.Errorf("%s: last_reply_at %v, want %v", what, got.LastReplyAt, last)
		}
	}
	replyIDs := func(ms []query.Message) []int64 {
		out := []int64{}
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}

	t.Run("replies join the root's thread and count on it", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 2)
		t0 := porttest.Now().Add(-time.Hour)
		c := env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID}, t0)
		other := env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID}, t0)
		root := send(t, env, c.ID(), u[0].ID, "root", 0, t0)
		elsewhere := send(t, env, other.ID(), u[0].ID, "in another chat", 0, t0)
		checkThread(t, "a root without replies", bySeq(t, env, c.ID(), root.Seq()), 0, time.Time{})

		a := send(t, env, c.ID(), u[1].ID, "first reply", root.ID(), t0.Add(time.Minute))
		if a.ThreadRootID() != root.ID() {
			t.Errorf("reply: thread root %d, want %d", a.ThreadRootID(), root.ID())
		}
		if th, ok := a.Thread(); !ok || th.RootID != root.ID() || th.RootSeq != root.Seq() || th.ReplyCount != 1 || !th.LastReplyAt.Equal(a.CreatedAt()) {
			t.Errorf("reply's thread state %+v (told %v), want root %d seq %d, 1 reply at %v", th, ok, root.ID(), root.Seq(), a.CreatedAt())
		}
		b := send(t, env, c.ID(), u[0].ID, "a reply to the reply", a.ID(), t0.Add(2*time.Minute))
		if b.ThreadRootID() != root.ID() {
			t.Errorf("reply to a reply: thread root %d, want the root %d", b.ThreadRootID(), root.ID())
		}
		if th, _ := b.Thread(); th.ReplyCount != 2 {
			t.Errorf("second reply's thread state %+v, want 2 replies", th)
		}
		checkThread(t, "root with two replies", bySeq(t, env, c.ID(), root.Seq()), 2, b.CreatedAt())
		got := bySeq(t, env, c.ID(), b.Seq())
		if got.ThreadRootID == nil || *got.ThreadRootID != root.ID() || got.ReplyToID == nil || *got.ReplyToID != a.ID() {
			t.Errorf("reply as read: thread_root_id %v reply_to_id %v, want %d and %d", got.ThreadRootID, got.ReplyToID, root.ID(), a.ID())
		}
		if got := bySeq(t, env, c.ID(), root.Seq()); got.ThreadRootID != nil {
			t.Errorf("root's thread_root_id = %v, want null", *got.ThreadRootID)
		}
		// Replies stay in the timeline with their own seq.
		page, _, err := env.MessageReads.ListMessages(ctx, c.ID(), query.Page{Forward: true, Limit: 10})
		if err != nil || len(page) != 3 || page[1].ID != a.ID() || page[2].ID != b.ID() || page[0].ReplyCount != 2 {
			t.Errorf("timeline %s, %v; want the root (2 replies) and both replies", showMessages(page), err)
		}

		// A reply to a message of another chat, or to none, is refused
		// and changes nothing.
		for _, replyTo := range []int64{elsewhere.ID(), elsewhere.ID() + 1_000_000} {
			m, _ := message.New(c.ID(), u[0].ID, "misplaced", "", replyTo, t0.Add(3*time.Minute))
			if _, err := env.Sender.Send(ctx, m, func(*message.Message) []ports.Event { return nil }); err == nil {
				t.Errorf("reply to %d (not a message of chat %d) accepted", replyTo, c.ID())
			}
		}
		if got := env.MustGetChat(t, c.ID()); got.LastSeq() != 3 {
			t.Errorf("after refused replies last_seq %d, want 3", got.LastSeq())
		}

		// Threads page oldest first, root excluded, deleted replies kept
		// as tombstones; the count follows the live replies.
		rs, more, err := env.ThreadReads.Replies(ctx, root.ID(), 0, 10)
		if err != nil || more || !slices.Equal(replyIDs(rs), []int64{a.ID(), b.ID()}) {
			t.Errorf("Replies = %v more %v, %v; want [%d %d]", replyIDs(rs), more, err, a.ID(), b.ID())
		}
		rs, more, err = env.ThreadReads.Replies(ctx, root.ID(), 0, 1)
		if err != nil || !more || !slices.Equal(replyIDs(rs), []int64{a.ID()}) {
			t.Errorf("Replies limit 1 = %v more %v, %v; want [%d] and more", replyIDs(rs), more, err, a.ID())
		}
		rs, more, err = env.ThreadReads.Replies(ctx, root.ID(), a.Seq(), 10)
		if err != nil || more || !slices.Equal(replyIDs(rs), []int64{b.ID()}) {
			t.Errorf("Replies after seq %d = %v more %v, %v; want [%d]", a.Seq(), replyIDs(rs), more, err, b.ID())
		}
		if rs, _, err := env.ThreadReads.Replies(ctx, elsewhere.ID(), 0, 10); err != nil || len(rs) != 0 {
			t.Errorf("Replies of a message without replies = %v, %v", replyIDs(rs), err)
		}

		remove(t, env, b, t0.Add(4*time.Minute))
		checkThread(t, "after deleting the latest reply", bySeq(t, env, c.ID(), root.Seq()), 1, a.CreatedAt())
		th, err := env.Threads.Recount(ctx, root.ID())
		if err != nil || th.RootID != root.ID() || th.RootSeq != root.Seq() || th.ReplyCount != 1 || !th.LastReplyAt.Equal(a.CreatedAt()) {
			t.Errorf("Recount = %+v, %v; want 1 reply at %v", th, err, a.CreatedAt())
		}
		rs, _, _ = env.ThreadReads.Replies(ctx, root.ID(), 0, 10)
		if len(rs) != 2 || rs[1].DeletedAt == nil {
			t.Errorf("Replies after a delete: %s, want the deleted reply as a tombstone", showMessages(rs))
		}
		remove(t, env, a, t0.Add(5*time.Minute))
		checkThread(t, "after deleting every reply", bySeq(t, env, c.ID(), root.Seq()), 0, time.Time{})
	})

	t.Run("mentions: members only, mention_count and the feed", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 4) // u[3] is in no chat
		alice, bob, carol, stranger := u[0], u[1], u[2], u[3]
		t0 := porttest.Now().Add(-time.Hour)
		c := env.NewChat(t, ws.ID, alice.ID, chat.Group, []int64{bob.ID, carol.ID}, t0)
		pair := env.NewChat(t, ws.ID, alice.ID, chat.Group, []int64{bob.ID}, t0)
		at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

		// Bob's own mention of himself comes first: sending moves his read
		// pointer, which would hide later mentions from mention_count.
		own := send(t, env, c.ID(), bob.ID, fmt.Sprintf("note to self <@%d>", bob.ID), 0, at(0))
		toBob := send(t, env, c.ID(), alice.ID, fmt.Sprintf("<@%d> and <@%d> and <@%d> again <@%d>", bob.ID, stranger.ID, carol.ID, bob.ID), 0, at(1))
		if got := toBob.Mentions(); !slices.Equal(got.UserIDs, []int64{bob.ID, carol.ID}) || got.All {
			t.Errorf("mentions kept %+v, want members only, each once, in order: [%d %d]", got, bob.ID, carol.ID)
		}
		all := send(t, env, c.ID(), alice.ID, "<!all> standup", 0, at(2))
		gone := send(t, env, c.ID(), alice.ID, fmt.Sprintf("<@%d> never mind", bob.ID), 0, at(4))
		remove(t, env, gone, at(5))
		plain := send(t, env, c.ID(), alice.ID, "no mention", 0, at(6))
		inPair := send(t, env, pair.ID(), alice.ID, fmt.Sprintf("<@%d> in private", bob.ID), 0, at(7))

		read := bySeq(t, env, c.ID(), toBob.Seq())
		if !slices.Equal(read.Mentions, []int64{bob.ID, carol.ID}) || read.MentionsAll {
			t.Errorf("message as read: mentions %v all %v", read.Mentions, read.MentionsAll)
		}
		if read := bySeq(t, env, c.ID(), all.Seq()); !read.MentionsAll {
			t.Errorf("<!all> as read: mentions_all false")
		}
		if read := bySeq(t, env, c.ID(), gone.Seq()); len(read.Mentions) != 0 {
			t.Errorf("a deleted message still mentions %v", read.Mentions)
		}

		mentionCount := func(userID, chatID int64) int64 {
			t.Helper()
			s, err := env.ChatReads.ChatSummary(ctx, ws.ID, chatID, userID)
			if err != nil {
				t.Fatalf("ChatSummary: %v", err)
			}
			list, err := env.ChatReads.ListChats(ctx, userID)
			if err != nil {
				t.Fatalf("ListChats: %v", err)
			}
			for _, x := range list {
				if x.ID == chatID && x.MentionCount != s.MentionCount {
					t.Errorf("ListChats says mention_count %d, ChatSummary %d", x.MentionCount, s.MentionCount)
				}
			}
			return s.MentionCount
		}
		// Bob: toBob and all (not his own, not the deleted one).
		if n := mentionCount(bob.ID, c.ID()); n != 2 {
			t.Errorf("bob's mention_count %d, want 2", n)
		}
		if n := mentionCount(carol.ID, c.ID()); n != 2 {
			t.Errorf("carol's mention_count %d, want 2 (named, and all)", n)
		}
		if n := mentionCount(alice.ID, c.ID()); n != 0 {
			t.Errorf("alice's mention_count %d, want 0 (she sent them)", n)
		}
		if n := mentionCount(bob.ID, pair.ID()); n != 1 {
			t.Errorf("bob's mention_count in the pair %d, want 1", n)
		}
		// Reading past a mention clears it.
		env.Mark(t, c.ID(), bob.ID, receipt.Read, toBob.Seq(), at(8))
		if n := mentionCount(bob.ID, c.ID()); n != 1 {
			t.Errorf("bob's mention_count after reading the first %d, want 1", n)
		}

		// The feed: newest first, paged by id, members' chats at query
		// time, never own or deleted messages.
		feed := func(userID, beforeID int64, limit int) ([]int64, bool) {
			t.Helper()
			ms, more, err := env.ThreadReads.Mentions(ctx, userID, beforeID, limit)
			if err != nil {
				t.Fatalf("Mentions: %v", err)
			}
			return replyIDs(ms), more
		}
		if got, more := feed(bob.ID, 0, 10); more || !slices.Equal(got, []int64{inPair.ID(), all.ID(), toBob.ID()}) {
			t.Errorf("bob's mentions %v more %v, want [%d %d %d]", got, more, inPair.ID(), all.ID(), toBob.ID())
		}
		if got, more := feed(bob.ID, 0, 2); !more || !slices.Equal(got, []int64{inPair.ID(), all.ID()}) {
			t.Errorf("bob's first 2 mentions %v more %v", got, more)
		}
		if got, more := feed(bob.ID, all.ID(), 2); more || !slices.Equal(got, []int64{toBob.ID()}) {
			t.Errorf("bob's mentions before %d: %v more %v, want [%d]", all.ID(), got, more, toBob.ID())
		}
		if got, _ := feed(stranger.ID, 0, 10); len(got) != 0 {
			t.Errorf("a user mentioned in a chat they are not in sees %v", got)
		}
		if err := env.Chats.RemoveMember(ctx, pair.ID(), bob.ID); err != nil {
			t.Fatalf("remove bob from the pair: %v", err)
		}
		if got, _ := feed(bob.ID, 0, 10); !slices.Equal(got, []int64{all.ID(), toBob.ID()}) {
			t.Errorf("after leaving the pair bob's mentions %v, want [%d %d]", got, all.ID(), toBob.ID())
		}
		_, _ = own, plain

		// An edit re-computes the mentions (the application keeps members
		// only before saving).
		if err := plain.Edit(alice.ID, fmt.Sprintf("now <@%d>", carol.ID), at(10)); err != nil {
			t.Fatal(err)
		}
		plain.SetMentions(message.ParseMentions(plain.Content()))
		if err := env.Tx.InTx(ctx, func(ctx context.Context) error { return env.Messages.Save(ctx, plain) }); err != nil {
			t.Fatalf("Save: %v", err)
		}
		if read := bySeq(t, env, c.ID(), plain.Seq()); !slices.Equal(read.Mentions, []int64{carol.ID}) {
			t.Errorf("edited message mentions %v, want [%d]", read.Mentions, carol.ID)
		}
		if got, _ := feed(carol.ID, 0, 10); !slices.Equal(got, []int64{plain.ID(), all.ID(), toBob.ID()}) {
			t.Errorf("carol's mentions after the edit %v", got)
		}
	})
}

func showMessages(ms []query.Message) string {
	out := "["
	for i, m := range ms {
		if i > 0 {
			out += " "
		}
		out += showMessage(m)
	}
	return out + "]"
}
