package querytest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
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
