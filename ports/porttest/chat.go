package porttest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
)

// RunChatRepository checks ChatRepository. It uses Env.Workspaces and
// Env.Users (chats need their users to exist), Env.Chats, and Env.Tx for
// the row lock Get takes inside a transaction; newEnv is called once per case.
func RunChatRepository(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()

	t.Run("create and get", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		us := env.NewUsers(t, ws.ID, 3)
		now := Now()
		c, err := chat.New(ws.ID, us[1].ID, chat.PrivateChannel, Unique("plans-"), "where we plan",
			[]int64{us[2].ID, us[0].ID}, chat.DefaultLimits, now)
		if err != nil {
			t.Fatalf("chat.New: %v", err)
		}
		if err := env.Chats.Create(ctx, c); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if c.ID() <= 0 {
			t.Fatalf("Create set id %d; want > 0", c.ID())
		}
		got := env.MustGetChat(t, c.ID())
		checkChat(t, got, c)
		if got.LastSeq() != 0 {
			t.Fatalf("LastSeq of a new chat = %d; want 0", got.LastSeq())
		}
		m, ok := got.Member(us[1].ID)
		if !ok || m.Role != chat.Owner {
			t.Fatalf("creator membership = %+v, %v; want owner", m, ok)
		}
		if got.OwnerID() != us[1].ID {
			t.Fatalf("OwnerID = %d; want %d", got.OwnerID(), us[1].ID)
		}
	})

	t.Run("get unknown is NotFound", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		if _, err := env.Chats.Get(ctx, 1<<60); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Get unknown: err = %v; want NotFound", err)
		}
	})

	t.Run("direct chats", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		us := env.NewUsers(t, ws.ID, 3)
		c := env.NewChat(t, ws.ID, us[1].ID, chat.Direct, []int64{us[0].ID}, Now())
		got := env.MustGetChat(t, c.ID())
		checkChat(t, got, c)
		if got.OwnerID() != 0 {
			t.Fatalf("direct chat OwnerID = %d; want 0", got.OwnerID())
		}
		for _, m := range got.Members() {
			if m.Role != chat.Member {
				t.Fatalf("direct chat member %+v; want role member", m)
			}
		}

		for _, key := range []string{chat.DirectKeyOf(us[0].ID, us[1].ID), chat.DirectKeyOf(us[1].ID, us[0].ID), c.DirectKey()} {
			found, err := env.Chats.FindDirect(ctx, ws.ID, key)
			if err != nil {
				t.Fatalf("FindDirect(%q): %v", key, err)
			}
			checkChat(t, found, c)
		}
		if _, err := env.Chats.FindDirect(ctx, ws.ID, chat.DirectKeyOf(us[0].ID, us[2].ID)); !errs.Is(err, errs.NotFound) {
			t.Fatalf("FindDirect of a pair without chat: err = %v; want NotFound", err)
		}
		other := env.NewWorkspace(t)
		if _, err := env.Chats.FindDirect(ctx, other.ID, c.DirectKey()); !errs.Is(err, errs.NotFound) {
			t.Fatalf("FindDirect in another workspace: err = %v; want NotFound", err)
		}

		// The same pair, either way round, is a Conflict.
		for _, pair := range [][2]int64{{us[0].ID, us[1].ID}, {us[1].ID, us[0].ID}} {
			dup, err := chat.New(ws.ID, pair[0], chat.Direct, "", "", []int64{pair[1]}, chat.DefaultLimits, Now())
			if err != nil {
				t.Fatalf("chat.New: %v", err)
			}
			if err := env.Chats.Create(ctx, dup); !errs.Is(err, errs.Conflict) {
				t.Fatalf("second direct chat %v: err = %v; want Conflict", pair, err)
			}
		}
		// Another pair is fine, and groups of the same two users are not direct.
		env.NewChat(t, ws.ID, us[0].ID, chat.Direct, []int64{us[2].ID}, Now())
		env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID}, Now())
		env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID}, Now())
	})

	t.Run("SaveInfo", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		us := env.NewUsers(t, ws.ID, 2)
		created := Now().Add(-time.Hour)
		c := env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID}, created)

		later := created.Add(time.Minute)
		name, desc := Unique("renamed-"), "new description"
		if err := c.Update(us[0].ID, &name, &desc, later); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if _, err := c.ChangeRole(us[0].ID, us[1].ID, chat.Owner, later); err != nil {
			t.Fatalf("ChangeRole: %v", err)
		}
		if err := env.Chats.SaveInfo(ctx, c); err != nil {
			t.Fatalf("SaveInfo: %v", err)
		}
		got := env.MustGetChat(t, c.ID())
		if got.Name() != name || got.Description() != desc || got.OwnerID() != us[1].ID ||
			!sameTime(got.UpdatedAt(), later) || !sameTime(got.CreatedAt(), created) {
			t.Fatalf("after SaveInfo: name %q desc %q owner %d updated %v created %v; want %q %q %d %v %v",
				got.Name(), got.Description(), got.OwnerID(), got.UpdatedAt(), got.CreatedAt(),
				name, desc, us[1].ID, later, created)
		}
		// SaveInfo writes the chat row only, not the members.
		if m, _ := got.Member(us[1].ID); m.Role != chat.Member {
			t.Fatalf("SaveInfo changed a role: %+v", m)
		}
	})

	t.Run("members", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		us := env.NewUsers(t, ws.ID, 5)
		created := Now().Add(-time.Hour)
		c := env.NewChat(t, ws.ID, us[0].ID, chat.PublicChannel, []int64{us[1].ID}, created)

		// AddMembers appends, in the order given.
		later := created.Add(time.Minute)
		added, err := c.AddMembers(us[0].ID, []int64{us[3].ID, us[2].ID}, later)
		if err != nil {
			t.Fatalf("AddMembers (domain): %v", err)
		}
		if err := env.Chats.AddMembers(ctx, c.ID(), added); err != nil {
			t.Fatalf("AddMembers: %v", err)
		}
		latest := later.Add(time.Minute)
		joined, _, err := c.Join(us[4].ID, latest)
		if err != nil {
			t.Fatalf("Join: %v", err)
		}
		if err := env.Chats.AddMembers(ctx, c.ID(), []chat.Membership{joined}); err != nil {
			t.Fatalf("AddMembers (join): %v", err)
		}
		got := env.MustGetChat(t, c.ID())
		checkMembers(t, got.Members(), c.Members())
		ids := got.MemberIDs()
		if !slices.Equal(ids[2:], []int64{us[3].ID, us[2].ID, us[4].ID}) {
			t.Fatalf("member order %v; want the two first members, then %v", ids,
				[]int64{us[3].ID, us[2].ID, us[4].ID})
		}

		m, err := env.Chats.Membership(ctx, c.ID(), us[2].ID)
		if err != nil {
			t.Fatalf("Membership: %v", err)
		}
		if m.UserID != us[2].ID || m.Role != chat.Member || !sameTime(m.JoinedAt, later) || m.LastReadSeq != 0 || m.LastDeliveredSeq != 0 {
			t.Fatalf("Membership = %+v; want member joined at %v", m, later)
		}

		if err := env.Chats.SetRole(ctx, c.ID(), us[2].ID, chat.Admin); err != nil {
			t.Fatalf("SetRole: %v", err)
		}
		if m, err := env.Chats.Membership(ctx, c.ID(), us[2].ID); err != nil || m.Role != chat.Admin {
			t.Fatalf("Membership after SetRole = %+v, %v; want admin", m, err)
		}
		if got := env.MustGetChat(t, c.ID()); !sameTime(got.UpdatedAt(), created) {
			t.Fatalf("member changes moved updated_at to %v; only SaveInfo writes it", got.UpdatedAt())
		}

		if err := env.Chats.RemoveMember(ctx, c.ID(), us[3].ID); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		if _, err := env.Chats.Membership(ctx, c.ID(), us[3].ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Membership of a removed member: err = %v; want NotFound", err)
		}
		got = env.MustGetChat(t, c.ID())
		if want := []int64{us[0].ID, us[1].ID, us[2].ID, us[4].ID}; !sameSet(got.MemberIDs(), want) || got.MemberCount() != 4 {
			t.Fatalf("members after RemoveMember = %v; want %v", got.MemberIDs(), want)
		}
		if m, _ := got.Member(us[2].ID); m.Role != chat.Admin {
			t.Fatalf("Get shows role %q after SetRole; want admin", m.Role)
		}
	})

	t.Run("Membership of non-member or unknown chat is NotFound", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		us := env.NewUsers(t, ws.ID, 3)
		c := env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID}, Now())
		if _, err := env.Chats.Membership(ctx, c.ID(), us[2].ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Membership of a non-member: err = %v; want NotFound", err)
		}
		if _, err := env.Chats.Membership(ctx, 1<<60, us[0].ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Membership of an unknown chat: err = %v; want NotFound", err)
		}
		m, err := env.Chats.Membership(ctx, c.ID(), us[0].ID)
		if err != nil || m.UserID != us[0].ID || m.Role != chat.Owner {
			t.Fatalf("Membership of the owner = %+v, %v", m, err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		us := env.NewUsers(t, ws.ID, 2)
		c := env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID}, Now())
		keep := env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID}, Now())
		m := env.Send(t, c.ID(), us[0].ID, "soon gone", Now())
		if err := env.Chats.Delete(ctx, c.ID()); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := env.Chats.Get(ctx, c.ID()); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Get of a deleted chat: err = %v; want NotFound", err)
		}
		if _, err := env.Chats.Membership(ctx, c.ID(), us[0].ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Membership of a deleted chat: err = %v; want NotFound", err)
		}
		// Its messages go with it.
		if _, err := env.Messages.ByID(ctx, m.ID()); !errs.Is(err, errs.NotFound) {
			t.Fatalf("ByID of a message of a deleted chat: err = %v; want NotFound", err)
		}
		if _, err := env.Messages.BySeq(ctx, c.ID(), m.Seq()); !errs.Is(err, errs.NotFound) {
			t.Fatalf("BySeq of a deleted chat: err = %v; want NotFound", err)
		}
		checkChat(t, env.MustGetChat(t, keep.ID()), keep)
	})

	t.Run("Get locks the chat inside a transaction", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		us := env.NewUsers(t, ws.ID, 2)
		c := env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID}, Now())
		// Read-modify-write from many goroutines: without the lock some
		// writes would be lost.
		const writers = 10
		var wg sync.WaitGroup
		fails := make([]error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fails[i] = env.Tx.InTx(ctx, func(ctx context.Context) error {
					got, err := env.Chats.Get(ctx, c.ID())
					if err != nil {
						return err
					}
					d := got.Description() + "x"
					if err := got.Update(us[0].ID, nil, &d, Now()); err != nil {
						return err
					}
					return env.Chats.SaveInfo(ctx, got)
				})
			}()
		}
		wg.Wait()
		for _, err := range fails {
			if err != nil {
				t.Fatalf("update in transaction: %v", err)
			}
		}
		got := env.MustGetChat(t, c.ID())
		if want := c.Description() + strings.Repeat("x", writers); got.Description() != want {
			t.Fatalf("description = %q; want %q (lost updates)", got.Description(), want)
		}
	})
}

// checkChat compares everything a ChatRepository stores.
func checkChat(t *testing.T, got, want *chat.Chat) {
	t.Helper()
	if got.ID() != want.ID() || got.WorkspaceID() != want.WorkspaceID() || got.Type() != want.Type() ||
		got.Name() != want.Name() || got.Description() != want.Description() || got.OwnerID() != want.OwnerID() ||
		got.LastSeq() != want.LastSeq() || !sameTime(got.CreatedAt(), want.CreatedAt()) ||
		!sameTime(got.UpdatedAt(), want.UpdatedAt()) {
		t.Fatalf("chat = {id %d ws %d %s %q %q owner %d seq %d created %v updated %v}; want {id %d ws %d %s %q %q owner %d seq %d created %v updated %v}",
			got.ID(), got.WorkspaceID(), got.Type(), got.Name(), got.Description(), got.OwnerID(), got.LastSeq(), got.CreatedAt(), got.UpdatedAt(),
			want.ID(), want.WorkspaceID(), want.Type(), want.Name(), want.Description(), want.OwnerID(), want.LastSeq(), want.CreatedAt(), want.UpdatedAt())
	}
	checkMembers(t, got.Members(), want.Members())
}

// checkMembers compares memberships in join order. Members who joined at
// the same instant may come in any order among themselves.
func checkMembers(t *testing.T, got, want []chat.Membership) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("members = %s; want %s", describe(got), describe(want))
	}
	for i := 1; i < len(got); i++ {
		if got[i].JoinedAt.Before(got[i-1].JoinedAt) {
			t.Fatalf("members not in join order: %s", describe(got))
		}
	}
	for _, w := range want {
		i := slices.IndexFunc(got, func(m chat.Membership) bool { return m.UserID == w.UserID })
		if i < 0 {
			t.Fatalf("members = %s; want %s", describe(got), describe(want))
		}
		g := got[i]
		if g.Role != w.Role || !sameTime(g.JoinedAt, w.JoinedAt) || g.LastReadSeq != w.LastReadSeq || g.LastDeliveredSeq != w.LastDeliveredSeq {
			t.Fatalf("member %d = %+v; want %+v", w.UserID, g, w)
		}
	}
}

func sameSet(a, b []int64) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
