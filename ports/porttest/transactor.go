package porttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/identity"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
)

// RunTransactor checks that Transactor spans every repository: a commit
// keeps the writes of all of them, an error from fn rolls all of them back,
// and a nested InTx joins the outer transaction. It uses every field of Env;
// newEnv is called once per case.
func RunTransactor(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()

	// created holds what createAll wrote.
	type created struct {
		ws       identity.Workspace
		user     identity.User
		invite   identity.Invite
		token    ports.RefreshToken
		group    *chat.Chat
		direct   *chat.Chat
		msg      *message.Message
		events   []ports.Event
		inviteAt time.Time
	}
	// createAll writes through every repository with ctx.
	createAll := func(ctx context.Context, env Env) (created, error) {
		var c created
		now := Now()
		c.ws = identity.Workspace{Name: Unique("ws-"), CreatedAt: now}
		if err := env.Workspaces.Create(ctx, &c.ws); err != nil {
			return c, err
		}
		c.user = identity.User{WorkspaceID: c.ws.ID, Email: Unique("u-") + "@example.com", Fullname: "Tx User",
			PasswordHash: "h", Role: identity.WorkspaceOwner, CreatedAt: now}
		if err := env.Users.Create(ctx, &c.user); err != nil {
			return c, err
		}
		peer := identity.User{WorkspaceID: c.ws.ID, Email: Unique("u-") + "@example.com", Fullname: "Tx Peer",
			PasswordHash: "h", Role: identity.WorkspaceMember, CreatedAt: now}
		if err := env.Users.Create(ctx, &peer); err != nil {
			return c, err
		}
		if err := env.Workspaces.SetOwner(ctx, c.ws.ID, c.user.ID); err != nil {
			return c, err
		}
		c.ws.OwnerID = c.user.ID
		var err error
		if c.invite, err = identity.NewInvite(Unique("code-"), c.user, nil, nil, now); err != nil {
			return c, err
		}
		if err := env.Invites.Create(ctx, c.invite); err != nil {
			return c, err
		}
		c.inviteAt = now
		c.token = ports.RefreshToken{UserID: c.user.ID, FamilyID: UUID(), Hash: Unique("hash-"), ExpiresAt: now.Add(time.Hour), CreatedAt: now}
		if err := env.Tokens.Create(ctx, &c.token); err != nil {
			return c, err
		}
		if c.group, err = chat.New(c.ws.ID, c.user.ID, chat.Group, "tx group", "", []int64{peer.ID}, chat.DefaultLimits, now); err != nil {
			return c, err
		}
		if err := env.Chats.Create(ctx, c.group); err != nil {
			return c, err
		}
		if c.direct, err = chat.New(c.ws.ID, c.user.ID, chat.Direct, "", "", []int64{peer.ID}, chat.DefaultLimits, now); err != nil {
			return c, err
		}
		if err := env.Chats.Create(ctx, c.direct); err != nil {
			return c, err
		}
		if c.msg, err = message.New(c.group.ID(), c.user.ID, "in a transaction", Unique("k-"), 0, now); err != nil {
			return c, err
		}
		if err := env.Messages.Append(ctx, c.msg); err != nil {
			return c, err
		}
		c.events = newEvents(2)
		return c, env.Outbox.Add(ctx, c.events...)
	}

	t.Run("commit keeps the writes of every repository", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		var c created
		err := env.Tx.InTx(ctx, func(ctx context.Context) error {
			var err error
			c, err = createAll(ctx, env)
			return err
		})
		if err != nil {
			t.Fatalf("InTx: %v", err)
		}
		mine := pendingOf(t, env, c.events)
		t.Cleanup(func() { _ = env.OutboxStore.Remove(context.Background(), positions(mine)) })
		if len(mine) != len(c.events) {
			t.Fatalf("%d of %d events pending after commit", len(mine), len(c.events))
		}
		if got, err := env.Workspaces.ByName(ctx, c.ws.Name); err != nil {
			t.Fatalf("workspace lost: %v", err)
		} else {
			checkWorkspace(t, got, c.ws)
		}
		if got, err := env.Users.ByEmail(ctx, c.user.Email); err != nil {
			t.Fatalf("user lost: %v", err)
		} else {
			checkUser(t, got, c.user)
		}
		if got, err := env.Tokens.ByHash(ctx, c.token.Hash); err != nil {
			t.Fatalf("token lost: %v", err)
		} else {
			checkToken(t, got, c.token)
		}
		if _, err := env.Chats.FindDirect(ctx, c.ws.ID, c.direct.DirectKey()); err != nil {
			t.Fatalf("direct chat lost: %v", err)
		}
		if got, err := env.Messages.ByID(ctx, c.msg.ID()); err != nil {
			t.Fatalf("message lost: %v", err)
		} else {
			checkMessage(t, got, c.msg)
		}
		if got := env.MustGetChat(t, c.group.ID()); got.LastSeq() != 1 {
			t.Fatalf("LastSeq = %d; want 1", got.LastSeq())
		}
		if err := env.Invites.Redeem(ctx, c.invite.Code, c.ws.ID, c.inviteAt); err != nil {
			t.Fatalf("invite lost: %v", err)
		}
	})

	t.Run("error rolls back the creates of every repository", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		boom := errors.New("boom")
		var c created
		err := env.Tx.InTx(ctx, func(ctx context.Context) error {
			var err error
			if c, err = createAll(ctx, env); err != nil {
				t.Errorf("write in transaction: %v", err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v; want the fn's error", err)
		}
		if t.Failed() {
			return
		}
		notFound := func(what string, err error) {
			t.Helper()
			if !errs.Is(err, errs.NotFound) {
				t.Errorf("%s after rollback: err = %v; want NotFound", what, err)
			}
		}
		_, err = env.Workspaces.ByName(ctx, c.ws.Name)
		notFound("workspace ByName", err)
		_, err = env.Workspaces.ByID(ctx, c.ws.ID)
		notFound("workspace ByID", err)
		_, err = env.Users.ByEmail(ctx, c.user.Email)
		notFound("user ByEmail", err)
		_, err = env.Users.ByID(ctx, c.user.ID)
		notFound("user ByID", err)
		notFound("invite Redeem", env.Invites.Redeem(ctx, c.invite.Code, c.ws.ID, c.inviteAt))
		_, err = env.Tokens.ByHash(ctx, c.token.Hash)
		notFound("token ByHash", err)
		_, err = env.Chats.Get(ctx, c.group.ID())
		notFound("chat Get", err)
		_, err = env.Chats.FindDirect(ctx, c.ws.ID, c.direct.DirectKey())
		notFound("chat FindDirect", err)
		_, err = env.Messages.ByID(ctx, c.msg.ID())
		notFound("message ByID", err)
		_, err = env.Messages.ByIdempotencyKey(ctx, c.user.ID, c.msg.IdempotencyKey())
		notFound("message ByIdempotencyKey", err)
		if mine := pendingOf(t, env, c.events); len(mine) != 0 {
			t.Errorf("events pending after rollback: %+v", mine)
		}
		// The name and email are free again.
		ws := identity.Workspace{Name: c.ws.Name, CreatedAt: Now()}
		if err := env.Workspaces.Create(ctx, &ws); err != nil {
			t.Fatalf("workspace name still taken after rollback: %v", err)
		}
		u := identity.User{WorkspaceID: ws.ID, Email: c.user.Email, Fullname: "Again", PasswordHash: "h",
			Role: identity.WorkspaceOwner, CreatedAt: Now()}
		if err := env.Users.Create(ctx, &u); err != nil {
			t.Errorf("email still taken after rollback: %v", err)
		}
	})

	t.Run("error rolls back the updates of every repository", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		us := env.NewUsers(t, ws.ID, 4)
		now := Now().Add(-time.Hour)
		maxUses, hours := 1, 2
		admin := us[0]
		admin.Role = identity.WorkspaceAdmin
		inv, err := identity.NewInvite(Unique("code-"), admin, &maxUses, &hours, now)
		if err != nil {
			t.Fatalf("NewInvite: %v", err)
		}
		if err := env.Invites.Create(ctx, inv); err != nil {
			t.Fatalf("invite Create: %v", err)
		}
		tok := ports.RefreshToken{UserID: us[0].ID, FamilyID: UUID(), Hash: Unique("hash-"), ExpiresAt: now.Add(48 * time.Hour), CreatedAt: now}
		if err := env.Tokens.Create(ctx, &tok); err != nil {
			t.Fatalf("token Create: %v", err)
		}
		g := env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID, us[2].ID}, now)
		m := env.Send(t, g.ID(), us[1].ID, "original", now)
		doomed := env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID}, now)
		doomedMsg := env.SendKey(t, doomed.ID(), us[0].ID, "in the doomed chat", Unique("k-"), now)
		doomed = env.MustGetChat(t, doomed.ID())
		before := env.MustGetChat(t, g.ID())

		boom := errors.New("boom")
		err = env.Tx.InTx(ctx, func(ctx context.Context) error {
			step := func(what string, err error) {
				if err != nil {
					t.Errorf("%s in transaction: %v", what, err)
				}
			}
			step("SetOwner", env.Workspaces.SetOwner(ctx, ws.ID, us[0].ID))
			newcomer := identity.User{WorkspaceID: ws.ID, Email: Unique("u-") + "@example.com", Fullname: "Newcomer",
				PasswordHash: "h", Role: identity.WorkspaceMember, CreatedAt: now}
			step("user Create", env.Users.Create(ctx, &newcomer))
			step("Redeem", env.Invites.Redeem(ctx, inv.Code, ws.ID, now))
			ok, err := env.Tokens.MarkUsed(ctx, tok.ID, now)
			step("MarkUsed", err)
			if !ok {
				t.Errorf("MarkUsed in transaction reported false")
			}
			step("RevokeFamily", env.Tokens.RevokeFamily(ctx, tok.FamilyID, now))

			c, err := env.Chats.Get(ctx, g.ID())
			if err != nil {
				t.Errorf("Get in transaction: %v", err)
				return err
			}
			name := "renamed"
			step("Update", c.Update(us[0].ID, &name, nil, now.Add(time.Minute)))
			step("SaveInfo", env.Chats.SaveInfo(ctx, c))
			step("AddMembers", env.Chats.AddMembers(ctx, g.ID(), []chat.Membership{{UserID: us[3].ID, Role: chat.Member, JoinedAt: now}}))
			step("RemoveMember", env.Chats.RemoveMember(ctx, g.ID(), us[2].ID))
			step("SetRole", env.Chats.SetRole(ctx, g.ID(), us[1].ID, chat.Admin))
			step("Delete", env.Chats.Delete(ctx, doomed.ID()))

			edited, err := env.Messages.BySeq(ctx, g.ID(), m.Seq())
			if err != nil {
				t.Errorf("BySeq in transaction: %v", err)
				return err
			}
			step("Edit", edited.Edit(us[1].ID, "edited", now.Add(time.Minute)))
			step("Save", env.Messages.Save(ctx, edited))
			next, _ := message.New(g.ID(), us[0].ID, "rolled back", "", 0, now)
			step("Append", env.Messages.Append(ctx, next))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v; want the fn's error", err)
		}
		if t.Failed() {
			return
		}

		if got, err := env.Workspaces.ByID(ctx, ws.ID); err != nil || got.OwnerID != 0 {
			t.Errorf("workspace after rollback = %+v, %v; want no owner", got, err)
		}
		if got, err := env.Users.Search(ctx, ws.ID, "", 100); err != nil || !sameSet(userIDs(got), userIDs(us)) {
			t.Errorf("users of the workspace after rollback = %v, %v; want %v", userIDs(got), err, userIDs(us))
		}
		if got, err := env.Tokens.ByHash(ctx, tok.Hash); err != nil {
			t.Errorf("token ByHash: %v", err)
		} else if !got.UsedAt.IsZero() || !got.RevokedAt.IsZero() {
			t.Errorf("token after rollback = %+v; want neither used nor revoked", got)
		}
		checkChat(t, env.MustGetChat(t, g.ID()), before)
		checkChat(t, env.MustGetChat(t, doomed.ID()), doomed)
		if got, err := env.Messages.ByIdempotencyKey(ctx, us[0].ID, doomedMsg.IdempotencyKey()); err != nil {
			t.Errorf("message of the chat whose deletion was rolled back: %v", err)
		} else {
			checkMessage(t, got, doomedMsg)
		}
		if got, err := env.Messages.BySeq(ctx, g.ID(), m.Seq()); err != nil {
			t.Errorf("BySeq: %v", err)
		} else {
			checkMessage(t, got, m)
		}
		if _, err := env.Messages.BySeq(ctx, g.ID(), m.Seq()+1); !errs.Is(err, errs.NotFound) {
			t.Errorf("rolled-back message still there: err = %v", err)
		}
		if err := env.Invites.Redeem(ctx, inv.Code, ws.ID, now); err != nil {
			t.Errorf("the invite's one use was not given back: %v", err)
		}
		if ok, err := env.Tokens.MarkUsed(ctx, tok.ID, now); err != nil || !ok {
			t.Errorf("MarkUsed after rollback = %v, %v; want true", ok, err)
		}
		if next := env.Send(t, g.ID(), us[0].ID, "after", Now()); next.Seq() != m.Seq()+1 {
			t.Errorf("next seq = %d; want %d (gapless)", next.Seq(), m.Seq()+1)
		}
	})

	t.Run("nested InTx joins the outer transaction", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		outer := identity.Workspace{Name: Unique("outer-"), CreatedAt: Now()}
		inner := identity.Workspace{Name: Unique("inner-"), CreatedAt: Now()}
		boom, innerBoom := errors.New("boom"), errors.New("inner boom")
		err := env.Tx.InTx(ctx, func(ctx context.Context) error {
			if err := env.Workspaces.Create(ctx, &outer); err != nil {
				return err
			}
			err := env.Tx.InTx(ctx, func(ctx context.Context) error {
				if _, err := env.Workspaces.ByName(ctx, outer.Name); err != nil {
					t.Errorf("inner transaction does not see the outer's write: %v", err)
				}
				return env.Workspaces.Create(ctx, &inner)
			})
			if err != nil {
				return err
			}
			if _, err := env.Workspaces.ByName(ctx, inner.Name); err != nil {
				t.Errorf("outer transaction does not see the inner's write: %v", err)
			}
			if err := env.Tx.InTx(ctx, func(ctx context.Context) error { return innerBoom }); !errors.Is(err, innerBoom) {
				t.Errorf("nested InTx = %v; want its fn's error", err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v; want the fn's error", err)
		}
		for _, name := range []string{outer.Name, inner.Name} {
			if _, err := env.Workspaces.ByName(ctx, name); !errs.Is(err, errs.NotFound) {
				t.Errorf("workspace %q after the outer rollback: err = %v; want NotFound", name, err)
			}
		}

		// And a nested commit lasts only as long as the outer one does: both
		// are kept when the outer transaction commits.
		a := identity.Workspace{Name: Unique("outer-"), CreatedAt: Now()}
		b := identity.Workspace{Name: Unique("inner-"), CreatedAt: Now()}
		err = env.Tx.InTx(ctx, func(ctx context.Context) error {
			if err := env.Workspaces.Create(ctx, &a); err != nil {
				return err
			}
			return env.Tx.InTx(ctx, func(ctx context.Context) error { return env.Workspaces.Create(ctx, &b) })
		})
		if err != nil {
			t.Fatalf("InTx: %v", err)
		}
		for _, name := range []string{a.Name, b.Name} {
			if _, err := env.Workspaces.ByName(ctx, name); err != nil {
				t.Errorf("workspace %q after commit: %v", name, err)
			}
		}
	})
}
