package querytest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/file"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

// SearchReads are the read models behind search: the membership filter
// (MemberChats: search shows only the caller's chats at query time) and
// the lookup of the hits' messages.
type SearchReads interface {
	query.MemberChats
	query.MessageLookup
}

// RunSearchReadModels checks query.MemberChats and query.MessageLookup. It
// writes through the Env's repositories and reads through Env.SearchReads;
// newEnv is called once per case.
func RunSearchReadModels(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()
	memberChats := func(t *testing.T, env Env, userID int64) []int64 {
		t.Helper()
		ids, err := env.SearchReads.MemberChatIDs(ctx, userID)
		if err != nil {
			t.Fatalf("MemberChatIDs: %v", err)
		}
		slices.Sort(ids)
		return ids
	}
	t.Run("MemberChatIDsFollowMembership", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 3)
		t0 := porttest.Now()
		a := env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID}, t0)
		b := env.NewChat(t, ws.ID, u[1].ID, chat.Direct, []int64{u[0].ID}, t0)
		c := env.NewChat(t, ws.ID, u[2].ID, chat.PublicChannel, nil, t0) // u[0] may read it, but is no member
		want := []int64{a.ID(), b.ID()}
		slices.Sort(want)
		if got := memberChats(t, env, u[0].ID); !slices.Equal(got, want) {
			t.Fatalf("chats of u0 = %v, want %v (not the public channel %d)", got, want, c.ID())
		}
		if got := memberChats(t, env, u[2].ID); !slices.Equal(got, []int64{c.ID()}) {
			t.Fatalf("chats of u2 = %v, want [%d]", got, c.ID())
		}
		if err := env.Chats.RemoveMember(ctx, a.ID(), u[1].ID); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		if got := memberChats(t, env, u[1].ID); !slices.Equal(got, []int64{b.ID()}) {
			t.Fatalf("after leaving %d: chats of u1 = %v, want [%d]", a.ID(), got, b.ID())
		}
		if err := env.Chats.AddMembers(ctx, c.ID(), []chat.Membership{{UserID: u[1].ID, Role: chat.Member, JoinedAt: t0.Add(time.Minute)}}); err != nil {
			t.Fatalf("AddMembers: %v", err)
		}
		want = []int64{b.ID(), c.ID()}
		slices.Sort(want)
		if got := memberChats(t, env, u[1].ID); !slices.Equal(got, want) {
			t.Fatalf("after joining %d: chats of u1 = %v, want %v", c.ID(), got, want)
		}
	})
	t.Run("MemberChatIDsOfManyUsersInOneCall", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 4)
		t0 := porttest.Now()
		a := env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID}, t0)
		b := env.NewChat(t, ws.ID, u[1].ID, chat.Direct, []int64{u[2].ID}, t0)
		got, err := env.SearchReads.MemberChatIDsOf(ctx, []int64{u[0].ID, u[1].ID, u[2].ID, u[3].ID, 1 << 50})
		if err != nil {
			t.Fatalf("MemberChatIDsOf: %v", err)
		}
		for _, ids := range got {
			slices.Sort(ids)
		}
		ab := []int64{a.ID(), b.ID()}
		slices.Sort(ab)
		if len(got) != 3 || !slices.Equal(got[u[0].ID], []int64{a.ID()}) || !slices.Equal(got[u[1].ID], ab) ||
			!slices.Equal(got[u[2].ID], []int64{b.ID()}) {
			t.Fatalf("MemberChatIDsOf = %v; want u0 in %d, u1 in %v, u2 in %d, and nobody else", got, a.ID(), ab, b.ID())
		}
		// The same answer as one user at a time.
		for _, user := range u {
			if one := memberChats(t, env, user.ID); !slices.Equal(one, got[user.ID]) {
				t.Fatalf("user %d: MemberChatIDs %v, MemberChatIDsOf %v", user.ID, one, got[user.ID])
			}
		}
		if none, err := env.SearchReads.MemberChatIDsOf(ctx, nil); err != nil || len(none) != 0 {
			t.Fatalf("MemberChatIDsOf(nil) = %v, %v", none, err)
		}
	})
	t.Run("MemberChatIDsOfAStrangerAreEmpty", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 3)
		env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID}, porttest.Now())
		if got := memberChats(t, env, u[2].ID); len(got) != 0 {
			t.Fatalf("chats of a user in none = %v", got)
		}
		if got := memberChats(t, env, 1<<50); len(got) != 0 {
			t.Fatalf("chats of an unknown user = %v", got)
		}
	})
	t.Run("MessagesByIDs", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 2)
		t0 := porttest.Now().Add(-time.Hour)
		c := env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID}, t0)
		kept := env.Send(t, c.ID(), u[0].ID, "kept", t0)
		gone := env.Send(t, c.ID(), u[1].ID, "gone", t0.Add(time.Minute))
		if err := gone.Delete(u[1].ID, false, t0.Add(2*time.Minute)); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := env.Messages.Save(ctx, gone); err != nil {
			t.Fatalf("Save: %v", err)
		}
		got, err := env.SearchReads.MessagesByIDs(ctx, []int64{gone.ID(), 1 << 50, kept.ID()})
		if err != nil {
			t.Fatalf("MessagesByIDs: %v", err)
		}
		if len(got) != 2 {
			t.Fatalf("got %d messages, want the two that exist (unknown ids left out)", len(got))
		}
		slices.SortFunc(got, func(a, b query.Message) int { return int(a.ID - b.ID) })
		if got[0].ID != kept.ID() || got[0].Content != "kept" || got[0].DeletedAt != nil {
			t.Errorf("kept = %s", showMessage(got[0]))
		}
		if got[1].ID != gone.ID() || got[1].DeletedAt == nil || got[1].Content != "" {
			t.Errorf("deleted = %s, want it with deleted_at set and no content", showMessage(got[1]))
		}
		if none, err := env.SearchReads.MessagesByIDs(ctx, nil); err != nil || len(none) != 0 {
			t.Errorf("no ids: %v, %v", none, err)
		}
	})
}

// SearchDocuments build the search index's documents from storage: for
// the indexer (by id) and for a reindex (by page).
type SearchDocuments interface {
	SearchDocumentsByID(ctx context.Context, ids []int64) ([]ports.SearchDocument, error)
	SearchDocuments(ctx context.Context, afterID int64, limit int) ([]ports.SearchDocument, error)
	MessagesMentioning(ctx context.Context, chatID, userID int64) ([]int64, error)
}

// RunSearchDocuments checks that Env.Documents builds a message's search
// document with its attachments' file names and the names of the users it
// mentions (full name and email local part), and leaves deleted and
// unknown messages out. It writes through Env.Files and Env.Sender.
func RunSearchDocuments(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()
	t.Run("names of files and mentioned users", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 3)
		alice, bob, outsider := u[0], u[1], u[2]
		t0 := porttest.Now().Add(-time.Hour)
		c := env.NewChat(t, ws.ID, alice.ID, chat.Group, []int64{bob.ID}, t0)
		var fileIDs []int64
		for _, name := range []string{"quarterly-report.pdf", "notes.txt"} {
			f, err := file.New(file.Upload{WorkspaceID: ws.ID, UploaderID: alice.ID, Name: name, ContentType: "application/pdf",
				Size: 10, SHA256: strings.Repeat("ab", 32), Key: porttest.Unique("key-"), CreatedAt: t0})
			if err != nil {
				t.Fatalf("file.New: %v", err)
			}
			if err := env.Files.Add(ctx, f, 1<<30); err != nil {
				t.Fatalf("Files.Add: %v", err)
			}
			fileIDs = append(fileIDs, f.ID())
		}
		send := func(content string, files []int64, at time.Time) *message.Message {
			t.Helper()
			m, err := message.NewWithAttachments(c.ID(), alice.ID, content, "", 0, files, at)
			if err != nil {
				t.Fatalf("message: %v", err)
			}
			sent, err := env.Sender.Send(ctx, m, func(*message.Message) []ports.Event { return nil })
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			return sent.Message
		}
		m := send(fmt.Sprintf("<@%d> <@%d> see attached", bob.ID, outsider.ID), fileIDs, t0)
		plain := send("nothing attached", nil, t0.Add(time.Minute))
		gone := send(fmt.Sprintf("<@%d> oops", bob.ID), nil, t0.Add(2*time.Minute))
		if err := gone.Delete(alice.ID, false, t0.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := env.Tx.InTx(ctx, func(ctx context.Context) error { return env.Messages.Save(ctx, gone) }); err != nil {
			t.Fatalf("Save: %v", err)
		}

		local, _, _ := strings.Cut(bob.Email, "@")
		want := ports.SearchDocument{ID: m.ID(), ChatID: c.ID(), WorkspaceID: ws.ID, SenderID: alice.ID, Seq: m.Seq(),
			Content: m.Content(), FileNames: []string{"quarterly-report.pdf", "notes.txt"},
			MentionNames: []string{bob.Fullname, local}, CreatedAt: m.CreatedAt()}
		check := func(what string, docs []ports.SearchDocument) {
			t.Helper()
			byID := map[int64]ports.SearchDocument{}
			for _, d := range docs {
				byID[d.ID] = d
			}
			if _, ok := byID[gone.ID()]; ok {
				t.Errorf("%s: a deleted message has a document", what)
			}
			got, ok := byID[m.ID()]
			if !ok {
				t.Fatalf("%s: no document of message %d in %+v", what, m.ID(), docs)
			}
			if got.ChatID != want.ChatID || got.WorkspaceID != want.WorkspaceID || got.SenderID != want.SenderID ||
				got.Seq != want.Seq || got.Content != want.Content || !got.CreatedAt.Equal(want.CreatedAt) ||
				!slices.Equal(got.FileNames, want.FileNames) || !slices.Equal(got.MentionNames, want.MentionNames) {
				t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
			}
			if p, ok := byID[plain.ID()]; !ok || len(p.FileNames) != 0 || len(p.MentionNames) != 0 || p.Content != "nothing attached" {
				t.Errorf("%s: plain message's document %+v (found %v)", what, p, ok)
			}
		}
		docs, err := env.Documents.SearchDocumentsByID(ctx, []int64{m.ID(), plain.ID(), gone.ID(), gone.ID() + 1_000_000})
		if err != nil {
			t.Fatalf("SearchDocumentsByID: %v", err)
		}
		if len(docs) != 2 {
			t.Errorf("SearchDocumentsByID returned %d documents, want 2 (the deleted and the unknown left out)", len(docs))
		}
		check("by id", docs)
		page, err := env.Documents.SearchDocuments(ctx, m.ID()-1, 1000)
		if err != nil {
			t.Fatalf("SearchDocuments: %v", err)
		}
		check("reindex page", page)
		if docs, err := env.Documents.SearchDocumentsByID(ctx, nil); err != nil || len(docs) != 0 {
			t.Errorf("SearchDocumentsByID(nil) = %v, %v", docs, err)
		}

		// After a rename: the chat's live messages mentioning bob, and the
		// new name in their documents.
		other := env.NewChat(t, ws.ID, alice.ID, chat.Group, []int64{bob.ID}, t0)
		m2 := send(fmt.Sprintf("and <@%d> again", bob.ID), nil, t0.Add(4*time.Minute))
		om, err := message.New(other.ID(), alice.ID, fmt.Sprintf("<@%d> elsewhere", bob.ID), "", 0, t0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.Sender.Send(ctx, om, func(*message.Message) []ports.Event { return nil }); err != nil {
			t.Fatalf("Send: %v", err)
		}
		ids, err := env.Documents.MessagesMentioning(ctx, c.ID(), bob.ID)
		if err != nil || !slices.Equal(ids, []int64{m.ID(), m2.ID()}) {
			t.Errorf("MessagesMentioning = %v, %v; want [%d %d] (not the deleted one, not another chat's)", ids, err, m.ID(), m2.ID())
		}
		if ids, err := env.Documents.MessagesMentioning(ctx, c.ID(), outsider.ID); err != nil || len(ids) != 0 {
			t.Errorf("mentions of a non-member = %v, %v; want none (the mention was dropped)", ids, err)
		}
		if err := env.Profiles.SetProfile(ctx, bob.ID, "Robert Tables", 0); err != nil {
			t.Fatalf("SetProfile: %v", err)
		}
		docs, err = env.Documents.SearchDocumentsByID(ctx, []int64{m.ID()})
		if err != nil || len(docs) != 1 || !slices.Equal(docs[0].MentionNames, []string{"Robert Tables", local}) {
			t.Errorf("after the rename: %+v, %v; want the new name", docs, err)
		}
	})
}
