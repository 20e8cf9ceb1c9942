package command_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/application"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// Every command's authorization and validation branches, on the memory
// adapters: a refused command answers its error kind and records nothing
// (no outbox event); an allowed one succeeds.

var seq atomic.Int64

// world is a workspace with an owner, two members and a user who is in no
// chat, another workspace's user, and chats between them.
type world struct {
	t   *testing.T
	ctx context.Context
	env memapp.Env
	app application.App

	workspace                      string // the workspace's name
	owner, m1, m2, loner, stranger command.Actor
	group, channel, direct         int64
	m1Msg                          int64 // seq of m1's message in group
}

// newWorldWith builds the world on an app with options (limits).
func newWorldWith(t *testing.T, o memapp.Options) *world {
	t.Helper()
	env := memapp.New(o)
	w := &world{t: t, ctx: context.Background(), env: env, app: env.App}
	ws := fmt.Sprintf("ws-%d", seq.Add(1))
	w.workspace = ws
	w.owner = w.signUp(ws, "")
	w.m1 = w.signUp(ws, w.invite())
	w.m2 = w.signUp(ws, w.invite())
	w.loner = w.signUp(ws, w.invite())
	w.stranger = w.signUp(fmt.Sprintf("other-%d", seq.Add(1)), "")
	w.group = w.chat(w.owner, "group", "g", w.m1.UserID, w.m2.UserID)
	w.channel = w.chat(w.owner, "public_channel", "c", w.m1.UserID)
	w.direct = w.chat(w.m1, "direct", "", w.m2.UserID)
	m, _, err := w.app.Commands.SendMessage.Handle(w.ctx, command.SendMessage{Actor: w.m1, ChatID: w.group, Content: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	w.m1Msg = m.Seq
	return w
}

func (w *world) signUp(ws, invite string) command.Actor {
	w.t.Helper()
	res, err := w.app.Commands.SignUp.Handle(w.ctx, command.SignUp{Email: fmt.Sprintf("u%d@x.test", seq.Add(1)),
		Password: "correct-horse", Fullname: "U", Workspace: ws, InviteCode: invite, ClientIP: uniqueIP()})
	if err != nil {
		w.t.Fatalf("sign up: %v", err)
	}
	return command.Actor{UserID: res.User.ID, WorkspaceID: res.User.WorkspaceID, SessionID: "s"}
}

// uniqueIP is a client address no other sign-up used, so that the
// per-address limits of a test's app start from zero.
func uniqueIP() string { return fmt.Sprintf("2001:db8::%x", seq.Add(1)) }

func (w *world) invite() string {
	w.t.Helper()
	inv, err := w.app.Commands.CreateInvite.Handle(w.ctx, command.CreateInvite{Actor: w.owner})
	if err != nil {
		w.t.Fatal(err)
	}
	return inv.Code
}

func (w *world) chat(by command.Actor, typ, name string, members ...int64) int64 {
	w.t.Helper()
	c, _, err := w.app.Commands.CreateChat.Handle(w.ctx, command.CreateChat{Actor: by, Type: typ, Name: name, MemberIDs: members})
	if err != nil {
		w.t.Fatalf("create %s: %v", typ, err)
	}
	return c.ID
}

func (w *world) pending() int {
	w.t.Helper()
	return len(w.pendingEvents())
}

// pendingEvents are the events in the outbox, oldest first.
func (w *world) pendingEvents() []ports.Event {
	w.t.Helper()
	es, err := w.env.Store.Outbox().Pending(w.ctx, 1<<20)
	if err != nil {
		w.t.Fatal(err)
	}
	out := make([]ports.Event, len(es))
	for i, e := range es {
		out[i] = e.Event
	}
	return out
}

// ok is the kind a case expects when it succeeds.
const ok = errs.Kind(-1)

type commandCase struct {
	name string
	want errs.Kind
	run  func(w *world) error
}

func runCases(t *testing.T, cases []commandCase) {
	t.Helper()
	runCasesWith(t, memapp.Options{}, cases)
}

// runCasesWith runs each case in a fresh world on an app with options.
func runCasesWith(t *testing.T, o memapp.Options, cases []commandCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorldWith(t, o)
			before := w.pending()
			err := tc.run(w)
			switch {
			case tc.want == ok && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != ok && err == nil:
				t.Fatalf("allowed, want %v", tc.want)
			case tc.want != ok && errs.KindOf(err) != tc.want:
				t.Fatalf("error %v (%v), want %v", err, errs.KindOf(err), tc.want)
			case tc.want != ok && w.pending() != before:
				t.Fatalf("a refused command recorded %d events", w.pending()-before)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestCreateChat(t *testing.T) {
	create := func(by func(*world) command.Actor, typ string, members func(*world) []int64) func(*world) error {
		return func(w *world) error {
			_, _, err := w.app.Commands.CreateChat.Handle(w.ctx, command.CreateChat{Actor: by(w), Type: typ, Name: "n", MemberIDs: members(w)})
			return err
		}
	}
	owner := func(w *world) command.Actor { return w.owner }
	runCases(t, []commandCase{
		{"group", ok, create(owner, "group", func(w *world) []int64 { return []int64{w.m1.UserID} })},
		{"unknown type", errs.Invalid, create(owner, "party", func(w *world) []int64 { return []int64{w.m1.UserID} })},
		{"member of another workspace", errs.NotFound, create(owner, "group", func(w *world) []int64 { return []int64{w.stranger.UserID} })},
		{"unknown user", errs.NotFound, create(owner, "group", func(w *world) []int64 { return []int64{1 << 40} })},
		{"direct with two others", errs.Invalid, create(owner, "direct", func(w *world) []int64 { return []int64{w.m1.UserID, w.m2.UserID} })},
		{"channel alone", ok, create(owner, "public_channel", func(w *world) []int64 { return nil })},
	})
}

func TestChatAdministration(t *testing.T) {
	update := func(by func(*world) command.Actor, chat func(*world) int64, name string) func(*world) error {
		return func(w *world) error {
			_, err := w.app.Commands.UpdateChat.Handle(w.ctx, command.UpdateChat{Actor: by(w), ChatID: chat(w), Name: ptr(name)})
			return err
		}
	}
	owner := func(w *world) command.Actor { return w.owner }
	m1 := func(w *world) command.Actor { return w.m1 }
	loner := func(w *world) command.Actor { return w.loner }
	stranger := func(w *world) command.Actor { return w.stranger }
	group := func(w *world) int64 { return w.group }
	direct := func(w *world) int64 { return w.direct }
	runCases(t, []commandCase{
		{"owner renames", ok, update(owner, group, "new")},
		{"member renames", errs.Forbidden, update(m1, group, "new")},
		{"non-member renames", errs.NotFound, update(loner, group, "new")},
		{"other workspace renames", errs.NotFound, update(stranger, group, "new")},
		{"direct renamed", errs.Forbidden, update(m1, direct, "new")},
		{"unknown chat", errs.NotFound, update(owner, func(*world) int64 { return 1 << 40 }, "new")},
		{"member deletes", errs.Forbidden, func(w *world) error {
			return w.app.Commands.DeleteChat.Handle(w.ctx, command.DeleteChat{Actor: w.m1, ChatID: w.group})
		}},
		{"owner deletes", ok, func(w *world) error {
			return w.app.Commands.DeleteChat.Handle(w.ctx, command.DeleteChat{Actor: w.owner, ChatID: w.group})
		}},
		{"member adds", errs.Forbidden, func(w *world) error {
			_, err := w.app.Commands.AddMembers.Handle(w.ctx, command.AddMembers{Actor: w.m1, ChatID: w.group, UserIDs: []int64{w.loner.UserID}})
			return err
		}},
		{"owner adds a stranger", errs.NotFound, func(w *world) error {
			_, err := w.app.Commands.AddMembers.Handle(w.ctx, command.AddMembers{Actor: w.owner, ChatID: w.group, UserIDs: []int64{w.stranger.UserID}})
			return err
		}},
		{"owner adds", ok, func(w *world) error {
			_, err := w.app.Commands.AddMembers.Handle(w.ctx, command.AddMembers{Actor: w.owner, ChatID: w.group, UserIDs: []int64{w.loner.UserID}})
			return err
		}},
		{"owner leaves", errs.Conflict, func(w *world) error {
			return w.app.Commands.RemoveMember.Handle(w.ctx, command.RemoveMember{Actor: w.owner, ChatID: w.group, UserID: w.owner.UserID})
		}},
		{"member removes another", errs.Forbidden, func(w *world) error {
			return w.app.Commands.RemoveMember.Handle(w.ctx, command.RemoveMember{Actor: w.m1, ChatID: w.group, UserID: w.m2.UserID})
		}},
		{"member leaves", ok, func(w *world) error {
			return w.app.Commands.RemoveMember.Handle(w.ctx, command.RemoveMember{Actor: w.m1, ChatID: w.group, UserID: w.m1.UserID})
		}},
		{"leave a direct chat", errs.Forbidden, func(w *world) error {
			return w.app.Commands.RemoveMember.Handle(w.ctx, command.RemoveMember{Actor: w.m1, ChatID: w.direct, UserID: w.m1.UserID})
		}},
		{"member changes a role", errs.Forbidden, func(w *world) error {
			_, err := w.app.Commands.ChangeRole.Handle(w.ctx, command.ChangeRole{Actor: w.m1, ChatID: w.group, UserID: w.m2.UserID, Role: "admin"})
			return err
		}},
		{"unknown role", errs.Invalid, func(w *world) error {
			_, err := w.app.Commands.ChangeRole.Handle(w.ctx, command.ChangeRole{Actor: w.owner, ChatID: w.group, UserID: w.m2.UserID, Role: "king"})
			return err
		}},
		{"owner makes an admin", ok, func(w *world) error {
			_, err := w.app.Commands.ChangeRole.Handle(w.ctx, command.ChangeRole{Actor: w.owner, ChatID: w.group, UserID: w.m2.UserID, Role: "admin"})
			return err
		}},
		{"join a public channel", ok, func(w *world) error {
			return w.app.Commands.JoinChannel.Handle(w.ctx, command.JoinChannel{Actor: w.loner, ChatID: w.channel})
		}},
		{"join a group one cannot see", errs.NotFound, func(w *world) error {
			return w.app.Commands.JoinChannel.Handle(w.ctx, command.JoinChannel{Actor: w.loner, ChatID: w.group})
		}},
		{"join another workspace's channel", errs.NotFound, func(w *world) error {
			return w.app.Commands.JoinChannel.Handle(w.ctx, command.JoinChannel{Actor: w.stranger, ChatID: w.channel})
		}},
		{"member invites", errs.Forbidden, func(w *world) error {
			_, err := w.app.Commands.CreateInvite.Handle(w.ctx, command.CreateInvite{Actor: w.m1})
			return err
		}},
	})
}

func TestMessages(t *testing.T) {
	send := func(by func(*world) command.Actor, chat func(*world) int64, content string) func(*world) error {
		return func(w *world) error {
			_, _, err := w.app.Commands.SendMessage.Handle(w.ctx, command.SendMessage{Actor: by(w), ChatID: chat(w), Content: content})
			return err
		}
	}
	m1 := func(w *world) command.Actor { return w.m1 }
	loner := func(w *world) command.Actor { return w.loner }
	group := func(w *world) int64 { return w.group }
	channel := func(w *world) int64 { return w.channel }
	runCases(t, []commandCase{
		{"member sends", ok, send(m1, group, "hi")},
		{"blank content", errs.Invalid, send(m1, group, "  \n ")},
		{"content over 4000 characters", errs.Invalid, send(m1, group, strings.Repeat("é", 4001))},
		{"non-member sends", errs.NotFound, send(loner, group, "hi")},
		// API.md: 403 for a previewer's write.
		{"previewer sends to a public channel", errs.Forbidden, send(loner, channel, "hi")},
		{"reply to an unknown message", errs.Invalid, func(w *world) error {
			_, _, err := w.app.Commands.SendMessage.Handle(w.ctx, command.SendMessage{Actor: w.m1, ChatID: w.group, Content: "re", ReplyToID: 1 << 40})
			return err
		}},
		{"sender edits", ok, func(w *world) error {
			_, err := w.app.Commands.EditMessage.Handle(w.ctx, command.EditMessage{Actor: w.m1, ChatID: w.group, Seq: w.m1Msg, Content: "edited"})
			return err
		}},
		{"another member edits", errs.Forbidden, func(w *world) error {
			_, err := w.app.Commands.EditMessage.Handle(w.ctx, command.EditMessage{Actor: w.m2, ChatID: w.group, Seq: w.m1Msg, Content: "edited"})
			return err
		}},
		{"edit to blank", errs.Invalid, func(w *world) error {
			_, err := w.app.Commands.EditMessage.Handle(w.ctx, command.EditMessage{Actor: w.m1, ChatID: w.group, Seq: w.m1Msg, Content: " "})
			return err
		}},
		{"edit an unknown seq", errs.NotFound, func(w *world) error {
			_, err := w.app.Commands.EditMessage.Handle(w.ctx, command.EditMessage{Actor: w.m1, ChatID: w.group, Seq: 99, Content: "x"})
			return err
		}},
		{"edit a deleted message is a conflict", ok, func(w *world) error {
			if err := w.app.Commands.DeleteMessage.Handle(w.ctx, command.DeleteMessage{Actor: w.m1, ChatID: w.group, Seq: w.m1Msg}); err != nil {
				return err
			}
			before := w.pending()
			_, err := w.app.Commands.EditMessage.Handle(w.ctx, command.EditMessage{Actor: w.m1, ChatID: w.group, Seq: w.m1Msg, Content: "x"})
			if errs.KindOf(err) == errs.Conflict && w.pending() == before {
				return nil // checked here, since the deletion itself recorded events
			}
			return fmt.Errorf("edit of a deleted message: %v", err)
		}},
		{"another member deletes", errs.Forbidden, func(w *world) error {
			return w.app.Commands.DeleteMessage.Handle(w.ctx, command.DeleteMessage{Actor: w.m2, ChatID: w.group, Seq: w.m1Msg})
		}},
		{"the owner deletes", ok, func(w *world) error {
			return w.app.Commands.DeleteMessage.Handle(w.ctx, command.DeleteMessage{Actor: w.owner, ChatID: w.group, Seq: w.m1Msg})
		}},
		{"non-member deletes", errs.NotFound, func(w *world) error {
			return w.app.Commands.DeleteMessage.Handle(w.ctx, command.DeleteMessage{Actor: w.loner, ChatID: w.group, Seq: w.m1Msg})
		}},
	})
}

func TestReceipts(t *testing.T) {
	read := func(by func(*world) command.Actor, chat func(*world) int64, seq int64) func(*world) error {
		return func(w *world) error {
			_, err := w.app.Commands.MarkRead.Handle(w.ctx, command.MarkRead{Actor: by(w), ChatID: chat(w), Seq: seq})
			return err
		}
	}
	m2 := func(w *world) command.Actor { return w.m2 }
	loner := func(w *world) command.Actor { return w.loner }
	group := func(w *world) int64 { return w.group }
	runCases(t, []commandCase{
		{"member reads", ok, read(m2, group, 1)},
		{"beyond last_seq", errs.Invalid, read(m2, group, 5)},
		{"zero seq", errs.Invalid, read(m2, group, 0)},
		{"non-member reads", errs.NotFound, read(loner, group, 1)},
		{"previewer reads a public channel", errs.Forbidden, read(loner, func(w *world) int64 { return w.channel }, 1)},
		{"previewer types in a public channel", errs.Forbidden, func(w *world) error {
			return w.app.Commands.SetTyping.Handle(w.ctx, command.SetTyping{Actor: w.loner, ChatID: w.channel, IsTyping: true})
		}},
		{"non-member types", errs.NotFound, func(w *world) error {
			return w.app.Commands.SetTyping.Handle(w.ctx, command.SetTyping{Actor: w.loner, ChatID: w.group, IsTyping: true})
		}},
		{"member delivers", ok, func(w *world) error {
			_, err := w.app.Commands.MarkDelivered.Handle(w.ctx, command.MarkDelivered{Actor: w.m2, ChatID: w.group, Seq: 1})
			return err
		}},
	})
}
