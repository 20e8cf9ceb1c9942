package querytest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports/porttest"
)

// RunChatReadModel checks query.ChatReadModel. It writes through
// Env.Workspaces, Env.Users, Env.Chats, Env.Messages and Env.Tx and reads
// through Env.ChatReads; newEnv is called once per case.
func RunChatReadModel(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()

	t.Run("ListChats orders by latest activity", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 3)
		t0 := porttest.Now().Add(-time.Hour)
		at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
		a := env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID}, at(1))
		b := env.NewChat(t, ws.ID, u[1].ID, chat.Group, []int64{u[0].ID, u[2].ID}, at(2))
		c := env.NewChat(t, ws.ID, u[0].ID, chat.PublicChannel, nil, at(3))
		d := env.NewChat(t, ws.ID, u[1].ID, chat.Direct, []int64{u[0].ID}, at(4))
		env.NewChat(t, ws.ID, u[1].ID, chat.Group, []int64{u[2].ID}, at(5))
		env.NewChat(t, ws.ID, u[1].ID, chat.PublicChannel, nil, at(30))
		env.Send(t, a.ID(), u[1].ID, "latest", at(10))
		env.Send(t, b.ID(), u[2].ID, "earlier", at(6))

		listIDs := func() []int64 {
			t.Helper()
			got, err := env.ChatReads.ListChats(ctx, u[0].ID)
			if err != nil {
				t.Fatalf("ListChats: %v", err)
			}
			ids := make([]int64, len(got))
			for i, s := range got {
				ids[i] = s.ID
			}
			return ids
		}
		if got, want := listIDs(), []int64{a.ID(), b.ID(), d.ID(), c.ID()}; !slices.Equal(got, want) {
			t.Fatalf("ListChats = %v; want %v (by last message, else updated_at, newest first; member chats only)", got, want)
		}

		// A chat without messages counts from its updated_at.
		name := "renamed"
		if err := c.Update(u[0].ID, &name, nil, at(20)); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if err := env.Chats.SaveInfo(ctx, c); err != nil {
			t.Fatalf("SaveInfo: %v", err)
		}
		if got, want := listIDs(), []int64{c.ID(), a.ID(), b.ID(), d.ID()}; !slices.Equal(got, want) {
			t.Fatalf("after renaming a chat without messages, ListChats = %v; want %v", got, want)
		}
		env.Send(t, d.ID(), u[0].ID, "newest", at(25))
		if got, want := listIDs(), []int64{d.ID(), c.ID(), a.ID(), b.ID()}; !slices.Equal(got, want) {
			t.Fatalf("after a new message, ListChats = %v; want %v", got, want)
		}
	})

	t.Run("ListChats of a user without chats is empty", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 3)
		env.NewChat(t, ws.ID, u[0].ID, chat.PublicChannel, []int64{u[1].ID}, porttest.Now())
		got, err := env.ChatReads.ListChats(ctx, u[2].ID)
		if err != nil || len(got) != 0 {
			t.Fatalf("ListChats = %+v, %v; want none", got, err)
		}
	})

	t.Run("ChatPositions: each user's chats with last_seq and member count, also when asked together", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 4)
		t0 := porttest.Now().Add(-time.Hour)
		a := env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID, u[2].ID}, t0)
		b := env.NewChat(t, ws.ID, u[1].ID, chat.Direct, []int64{u[0].ID}, t0)
		c := env.NewChat(t, ws.ID, u[2].ID, chat.PublicChannel, nil, t0)
		for i := range 3 {
			env.Send(t, a.ID(), u[i%2].ID, "m", t0.Add(time.Minute))
		}
		env.Send(t, b.ID(), u[1].ID, "m", t0.Add(time.Minute))
		want := map[int][]query.ChatPosition{
			0: {{ChatID: a.ID(), LastSeq: 3, MemberCount: 3}, {ChatID: b.ID(), LastSeq: 1, MemberCount: 2}},
			1: {{ChatID: a.ID(), LastSeq: 3, MemberCount: 3}, {ChatID: b.ID(), LastSeq: 1, MemberCount: 2}},
			2: {{ChatID: a.ID(), LastSeq: 3, MemberCount: 3}, {ChatID: c.ID(), LastSeq: 0, MemberCount: 1}},
			3: nil,
		}
		byID := func(x, y query.ChatPosition) int { return int(x.ChatID - y.ChatID) }
		for i := range want {
			slices.SortFunc(want[i], byID)
		}
		// Many at once, as connects come in a burst: each gets its own.
		var wg sync.WaitGroup
		got := make([][]query.ChatPosition, 40)
		errList := make([]error, len(got))
		for k := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[k], errList[k] = env.ChatReads.ChatPositions(ctx, u[k%4].ID)
			}()
		}
		wg.Wait()
		for k := range got {
			if errList[k] != nil {
				t.Fatalf("ChatPositions: %v", errList[k])
			}
			if len(got[k]) != len(want[k%4]) || !slices.Equal(got[k], want[k%4]) {
				t.Fatalf("ChatPositions(user %d) = %+v; want %+v (by chat id)", k%4, got[k], want[k%4])
			}
		}
		// And one alone, after a change.
		env.Send(t, c.ID(), u[2].ID, "m", t0.Add(2*time.Minute))
		one, err := env.ChatReads.ChatPositions(ctx, u[2].ID)
		if err != nil || len(one) != 2 || one[1] != (query.ChatPosition{ChatID: c.ID(), LastSeq: 1, MemberCount: 1}) {
			t.Fatalf("ChatPositions after a send = %+v, %v", one, err)
		}
	})

	t.Run("unread counts, pointers and last message", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 3)
		t0 := porttest.Now().Add(-time.Hour)
		c := env.NewChat(t, ws.ID, u[0].ID, chat.PrivateChannel, []int64{u[1].ID, u[2].ID}, t0)
		empty := env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID}, t0)

		send := func(from int, text string) *message.Message {
			return env.Send(t, c.ID(), u[from].ID, text, t0.Add(time.Minute))
		}
		send(1, "s1")
		send(1, "s2")
		send(0, "s3") // moves u0's pointers to 3
		send(1, "s4")
		s5 := send(1, "s5")
		last := send(1, "s6")
		if err := s5.Delete(u[1].ID, false, t0.Add(2*time.Minute)); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := env.Messages.Save(ctx, s5); err != nil {
			t.Fatalf("Save: %v", err)
		}

		wantChat := query.ChatOf(env.MustGetChat(t, c.ID()))
		lastMsg := query.MessageOf(last)
		cases := []struct {
			user              int
			unread, read, dlv int64
		}{
			{0, 2, 3, 3}, // s4, s6: above its pointer, not its own, not deleted
			{1, 0, 6, 6},
			{2, 5, 0, 0}, // all but the deleted one
		}
		for _, cs := range cases {
			s, err := env.ChatReads.ChatSummary(ctx, ws.ID, c.ID(), u[cs.user].ID)
			if err != nil {
				t.Fatalf("ChatSummary: %v", err)
			}
			wantRole := chat.Member
			if cs.user == 0 {
				wantRole = chat.Owner
			}
			checkChat(t, s.Chat, wantChat)
			if s.Role == nil || *s.Role != string(wantRole) || s.UnreadCount != cs.unread || s.LastReadSeq != cs.read || s.LastDeliveredSeq != cs.dlv {
				t.Fatalf("user %d: role %v unread %d read %d delivered %d; want %s %d %d %d",
					cs.user, s.Role, s.UnreadCount, s.LastReadSeq, s.LastDeliveredSeq, wantRole, cs.unread, cs.read, cs.dlv)
			}
			if s.LastMessage == nil {
				t.Fatalf("user %d: no last message", cs.user)
			}
			checkMessage(t, *s.LastMessage, lastMsg)

			list, err := env.ChatReads.ListChats(ctx, u[cs.user].ID)
			if err != nil {
				t.Fatalf("ListChats: %v", err)
			}
			i := slices.IndexFunc(list, func(x query.ChatSummary) bool { return x.ID == c.ID() })
			if i < 0 {
				t.Fatalf("ListChats of user %d misses chat %d", cs.user, c.ID())
			}
			checkSummary(t, list[i], s)
		}

		// A member's own messages never count, even above their pointer:
		// u2 sends, leaves, and is added back with fresh pointers.
		env.Send(t, c.ID(), u[2].ID, "s7", t0.Add(3*time.Minute))
		if err := env.Chats.RemoveMember(ctx, c.ID(), u[2].ID); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		env.Send(t, c.ID(), u[0].ID, "s8", t0.Add(4*time.Minute))
		back := []chat.Membership{{UserID: u[2].ID, Role: chat.Member, JoinedAt: t0.Add(5 * time.Minute)}}
		if err := env.Chats.AddMembers(ctx, c.ID(), back); err != nil {
			t.Fatalf("AddMembers: %v", err)
		}
		s, err := env.ChatReads.ChatSummary(ctx, ws.ID, c.ID(), u[2].ID)
		if err != nil {
			t.Fatalf("ChatSummary: %v", err)
		}
		if s.UnreadCount != 6 || s.LastReadSeq != 0 {
			t.Fatalf("re-added member: unread %d read %d; want 6 (s1..s8 less the tombstone and its own s7), 0", s.UnreadCount, s.LastReadSeq)
		}

		s, err = env.ChatReads.ChatSummary(ctx, ws.ID, empty.ID(), u[1].ID)
		if err != nil {
			t.Fatalf("ChatSummary: %v", err)
		}
		if s.LastMessage != nil || s.UnreadCount != 0 || s.LastSeq != 0 {
			t.Fatalf("chat without messages: last %+v unread %d last_seq %d; want nil 0 0", s.LastMessage, s.UnreadCount, s.LastSeq)
		}
	})

	t.Run("last message may be a tombstone", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 2)
		c := env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID}, porttest.Now())
		env.Send(t, c.ID(), u[1].ID, "kept", porttest.Now())
		m := env.Send(t, c.ID(), u[1].ID, "oops", porttest.Now())
		if err := m.Delete(u[1].ID, false, porttest.Now()); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := env.Messages.Save(ctx, m); err != nil {
			t.Fatalf("Save: %v", err)
		}
		s, err := env.ChatReads.ChatSummary(ctx, ws.ID, c.ID(), u[0].ID)
		if err != nil {
			t.Fatalf("ChatSummary: %v", err)
		}
		if s.LastMessage == nil {
			t.Fatalf("no last message")
		}
		checkMessage(t, *s.LastMessage, query.MessageOf(m))
		if s.UnreadCount != 1 {
			t.Fatalf("unread = %d; want 1 (the tombstone does not count)", s.UnreadCount)
		}
	})

	t.Run("ChatSummary visibility", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws, otherWS := env.NewWorkspace(t), env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 3)
		stranger := env.NewUser(t, otherWS.ID)
		now := porttest.Now()
		public := env.NewChat(t, ws.ID, u[0].ID, chat.PublicChannel, []int64{u[1].ID}, now)
		private := env.NewChat(t, ws.ID, u[0].ID, chat.PrivateChannel, []int64{u[1].ID}, now)
		group := env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID}, now)
		direct := env.NewChat(t, ws.ID, u[0].ID, chat.Direct, []int64{u[1].ID}, now)
		last := env.Send(t, public.ID(), u[1].ID, "welcome", now)

		// A member of the public channel sees their role.
		s, err := env.ChatReads.ChatSummary(ctx, ws.ID, public.ID(), u[0].ID)
		if err != nil || s.Role == nil || *s.Role != string(chat.Owner) {
			t.Fatalf("member's summary = %+v, %v; want role owner", s, err)
		}

		// A workspace user outside the public channel sees it without a role
		// or pointers, with its last message.
		s, err = env.ChatReads.ChatSummary(ctx, ws.ID, public.ID(), u[2].ID)
		if err != nil {
			t.Fatalf("non-member's summary of a public channel: %v", err)
		}
		checkChat(t, s.Chat, query.ChatOf(env.MustGetChat(t, public.ID())))
		if s.Role != nil || s.UnreadCount != 0 || s.LastReadSeq != 0 || s.LastDeliveredSeq != 0 {
			t.Fatalf("non-member's summary: role %v unread %d read %d delivered %d; want nil 0 0 0",
				s.Role, s.UnreadCount, s.LastReadSeq, s.LastDeliveredSeq)
		}
		if s.LastMessage == nil {
			t.Fatalf("non-member's summary has no last message")
		}
		checkMessage(t, *s.LastMessage, query.MessageOf(last))

		notFound := []struct {
			what         string
			ws, chat, by int64
		}{
			{"private channel, non-member", ws.ID, private.ID(), u[2].ID},
			{"group, non-member", ws.ID, group.ID(), u[2].ID},
			{"direct chat, non-member", ws.ID, direct.ID(), u[2].ID},
			{"public channel of another workspace", otherWS.ID, public.ID(), stranger.ID},
			{"unknown chat", ws.ID, 1 << 60, u[0].ID},
		}
		for _, c := range notFound {
			if _, err := env.ChatReads.ChatSummary(ctx, c.ws, c.chat, c.by); !errs.Is(err, errs.NotFound) {
				t.Errorf("ChatSummary of %s: err = %v; want NotFound", c.what, err)
			}
		}
		if _, err := env.ChatReads.ChatSummary(ctx, ws.ID, private.ID(), u[1].ID); err != nil {
			t.Errorf("member's summary of a private channel: %v", err)
		}
	})

	t.Run("PublicChannels lists the workspace's public channels by name", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws, otherWS := env.NewWorkspace(t), env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 2)
		stranger := env.NewUser(t, otherWS.ID)
		now := porttest.Now()
		mk := func(ws, by int64, typ chat.Type, name string, members ...int64) *chat.Chat {
			c, err := chat.New(ws, by, typ, name, "", members, chat.DefaultLimits, now)
			if err != nil {
				t.Fatal(err)
			}
			if err := env.Chats.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
			return c
		}
		random := mk(ws.ID, u[0].ID, chat.PublicChannel, "random")
		general := mk(ws.ID, u[0].ID, chat.PublicChannel, "General", u[1].ID)
		mk(ws.ID, u[0].ID, chat.PublicChannel, "50%_off")
		mk(ws.ID, u[0].ID, chat.PrivateChannel, "general-private", u[1].ID)
		mk(otherWS.ID, stranger.ID, chat.PublicChannel, "general-elsewhere")

		all, err := env.ChatReads.PublicChannels(ctx, ws.ID, u[1].ID, "", 10)
		if err != nil || len(all) != 3 || all[0].Name != "50%_off" || all[1].ID != general.ID() || all[2].ID != random.ID() {
			t.Fatalf("all public channels = %+v, %v", all, err)
		}
		if all[1].Role == nil || *all[1].Role != string(chat.Member) || all[2].Role != nil {
			t.Errorf("roles as u1 sees them: general %v, random %v; want member, nil", all[1].Role, all[2].Role)
		}
		if all[1].MemberCount != 2 {
			t.Errorf("general has %d members, want 2", all[1].MemberCount)
		}
		found, err := env.ChatReads.PublicChannels(ctx, ws.ID, u[1].ID, "GEN", 10)
		if err != nil || len(found) != 1 || found[0].ID != general.ID() {
			t.Errorf("search GEN = %+v, %v; want only general", found, err)
		}
		// LIKE wildcards in q are literal.
		if found, _ := env.ChatReads.PublicChannels(ctx, ws.ID, u[1].ID, "%_", 10); len(found) != 1 || found[0].Name != "50%_off" {
			t.Errorf(`search "%%_" = %+v; want only 50%%_off`, found)
		}
		if page, _ := env.ChatReads.PublicChannels(ctx, ws.ID, u[1].ID, "", 2); len(page) != 2 {
			t.Errorf("limit 2 gave %d", len(page))
		}
		if other, _ := env.ChatReads.PublicChannels(ctx, otherWS.ID, stranger.ID, "", 10); len(other) != 1 || other[0].Name != "general-elsewhere" {
			t.Errorf("the other workspace sees %+v", other)
		}
	})

	t.Run("Members in join order", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 4)
		t0 := porttest.Now().Add(-time.Hour)
		c := env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID}, t0)
		for i, id := range []int64{u[3].ID, u[2].ID} {
			added, err := c.AddMembers(u[0].ID, []int64{id}, t0.Add(time.Duration(i+1)*time.Minute))
			if err != nil {
				t.Fatalf("AddMembers (domain): %v", err)
			}
			if err := env.Chats.AddMembers(ctx, c.ID(), added); err != nil {
				t.Fatalf("AddMembers: %v", err)
			}
		}
		if err := env.Chats.SetRole(ctx, c.ID(), u[3].ID, chat.Admin); err != nil {
			t.Fatalf("SetRole: %v", err)
		}
		env.Send(t, c.ID(), u[3].ID, "hi", t0.Add(time.Hour))

		got, err := env.ChatReads.Members(ctx, c.ID())
		if err != nil {
			t.Fatalf("Members: %v", err)
		}
		want := []query.Member{
			{UserID: u[0].ID, Role: string(chat.Owner), JoinedAt: t0},
			{UserID: u[1].ID, Role: string(chat.Member), JoinedAt: t0},
			{UserID: u[3].ID, Role: string(chat.Admin), JoinedAt: t0.Add(time.Minute), LastReadSeq: 1, LastDeliveredSeq: 1},
			{UserID: u[2].ID, Role: string(chat.Member), JoinedAt: t0.Add(2 * time.Minute)},
		}
		if len(got) == 4 && got[0].UserID == u[1].ID { // joined together: either order
			got[0], got[1] = got[1], got[0]
		}
		checkMembers(t, got, want)

		if err := env.Chats.RemoveMember(ctx, c.ID(), u[3].ID); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		got, err = env.ChatReads.Members(ctx, c.ID())
		if err != nil {
			t.Fatalf("Members: %v", err)
		}
		if len(got) == 3 && got[0].UserID == u[1].ID {
			got[0], got[1] = got[1], got[0]
		}
		checkMembers(t, got, []query.Member{want[0], want[1], want[3]})
	})
}

func checkChat(t *testing.T, got, want query.Chat) {
	t.Helper()
	if got.ID != want.ID || got.WorkspaceID != want.WorkspaceID || got.Type != want.Type || got.Name != want.Name ||
		got.Description != want.Description || !sameInt64Ptr(got.OwnerID, want.OwnerID) ||
		got.MemberCount != want.MemberCount || got.LastSeq != want.LastSeq ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("chat = %+v; want %+v", got, want)
	}
}

func checkSummary(t *testing.T, got, want query.ChatSummary) {
	t.Helper()
	checkChat(t, got.Chat, want.Chat)
	if (got.Role == nil) != (want.Role == nil) || (got.Role != nil && *got.Role != *want.Role) ||
		got.UnreadCount != want.UnreadCount || got.LastReadSeq != want.LastReadSeq ||
		got.LastDeliveredSeq != want.LastDeliveredSeq || (got.LastMessage == nil) != (want.LastMessage == nil) {
		t.Fatalf("summary = %+v; want %+v", got, want)
	}
	if got.LastMessage != nil {
		checkMessage(t, *got.LastMessage, *want.LastMessage)
	}
}

func checkMembers(t *testing.T, got, want []query.Member) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("members = %+v; want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.UserID != w.UserID || g.Role != w.Role || !g.JoinedAt.Equal(w.JoinedAt) ||
			g.LastReadSeq != w.LastReadSeq || g.LastDeliveredSeq != w.LastDeliveredSeq {
			t.Fatalf("members = %+v; want %+v", got, want)
		}
	}
}
