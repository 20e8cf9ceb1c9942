package command_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/imaging/imagingtest"
	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// Reactions, uploads, profiles and presence on the memory adapters.

func TestReact(t *testing.T) {
	react := func(by func(*world) command.Actor, chat func(*world) int64, seq func(*world) int64, emoji string, add bool) func(*world) error {
		return func(w *world) error {
			_, err := w.app.Commands.React.Handle(w.ctx, command.React{Actor: by(w), ChatID: chat(w), Seq: seq(w), Emoji: emoji, Add: add})
			return err
		}
	}
	m2 := func(w *world) command.Actor { return w.m2 }
	loner := func(w *world) command.Actor { return w.loner }
	stranger := func(w *world) command.Actor { return w.stranger }
	group := func(w *world) int64 { return w.group }
	msg := func(w *world) int64 { return w.m1Msg }
	runCases(t, []commandCase{
		{"member adds", ok, react(m2, group, msg, "👍", true)},
		{"short code", ok, react(m2, group, msg, ":thumbsup:", true)},
		{"not an emoji", errs.Invalid, react(m2, group, msg, "thumbs up", true)},
		{"empty emoji", errs.Invalid, react(m2, group, msg, "", true)},
		{"non-member", errs.NotFound, react(loner, group, msg, "👍", true)},
		{"another workspace", errs.NotFound, react(stranger, group, msg, "👍", true)},
		{"unknown message", errs.NotFound, react(m2, group, func(*world) int64 { return 99 }, "👍", true)},
		// These two write first, so they check what the refusal recorded.
		{"previewer of a public channel is forbidden", ok, func(w *world) error {
			m, _, err := w.app.Commands.SendMessage.Handle(w.ctx, command.SendMessage{Actor: w.m1, ChatID: w.channel, Content: "in the channel"})
			if err != nil {
				return err
			}
			before := w.pending()
			_, err = w.app.Commands.React.Handle(w.ctx, command.React{Actor: w.loner, ChatID: w.channel, Seq: m.Seq, Emoji: "👍", Add: true})
			if errs.KindOf(err) != errs.Forbidden || w.pending() != before {
				return fmt.Errorf("previewer's reaction: %v, %d events", err, w.pending()-before)
			}
			return nil
		}},
		{"deleted message is a conflict", ok, func(w *world) error {
			if err := w.app.Commands.DeleteMessage.Handle(w.ctx, command.DeleteMessage{Actor: w.m1, ChatID: w.group, Seq: w.m1Msg}); err != nil {
				return err
			}
			before := w.pending()
			_, err := w.app.Commands.React.Handle(w.ctx, command.React{Actor: w.m2, ChatID: w.group, Seq: w.m1Msg, Emoji: "👍", Add: true})
			if errs.KindOf(err) != errs.Conflict || w.pending() != before {
				return fmt.Errorf("reaction to a deleted message: %v, %d events", err, w.pending()-before)
			}
			return nil
		}},
		{"add twice, remove twice: one event each way", ok, func(w *world) error {
			before := w.pending()
			for _, add := range []bool{true, true, false, false} {
				got, err := w.app.Commands.React.Handle(w.ctx, command.React{Actor: w.m2, ChatID: w.group, Seq: w.m1Msg, Emoji: "🎉", Add: add})
				if err != nil {
					return err
				}
				if want := map[bool]int{true: 1, false: 0}[add]; len(got) != want {
					return fmt.Errorf("after add=%v the message has %d reactions, want %d", add, len(got), want)
				}
			}
			if n := w.pending() - before; n != 2 {
				return fmt.Errorf("%d reaction.updated events, want 2 (repeats change nothing)", n)
			}
			return nil
		}},
	})
}

func TestUploadFile(t *testing.T) {
	upload := func(name string, body func(t *testing.T) []byte) func(*world) error {
		return func(w *world) error {
			stored := w.env.Files.Len()
			f, err := w.app.Commands.UploadFile.Handle(w.ctx, command.UploadFile{Actor: w.m1, Name: name, Body: bytes.NewReader(body(w.t))})
			if err != nil {
				if w.env.Files.Len() != stored {
					return fmt.Errorf("a refused upload left %d objects in the store", w.env.Files.Len()-stored)
				}
				return err
			}
			if f.ID == 0 || f.Size != int64(len(body(w.t))) || f.URL == "" {
				return fmt.Errorf("uploaded file %+v", f)
			}
			return nil
		}
	}
	text := func(n int) func(*testing.T) []byte {
		return func(*testing.T) []byte { return []byte(strings.Repeat("a", n)) }
	}
	runCasesWith(t, memapp.Options{Files: command.FileLimits{MaxBytes: 1000, QuotaBytes: 5000}}, []commandCase{
		{"text file", ok, upload("notes.txt", text(10))},
		{"exactly the limit", ok, upload("notes.txt", text(1000))},
		{"an image, with its thumbnail", ok, func(w *world) error {
			f, err := w.app.Commands.UploadFile.Handle(w.ctx, command.UploadFile{Actor: w.m1, Name: "dot.png", Body: bytes.NewReader(imagingtest.PNG(w.t, 40, 30))})
			if err != nil {
				return err
			}
			if f.ContentType != "image/png" || f.Width == nil || *f.Width != 40 || f.ThumbnailURL == nil {
				return fmt.Errorf("image uploaded as %+v", f)
			}
			return nil
		}},
		{"path in the name is dropped", ok, func(w *world) error {
			f, err := w.app.Commands.UploadFile.Handle(w.ctx, command.UploadFile{Actor: w.m1, Name: "../../etc/passwd", Body: strings.NewReader("x")})
			if err == nil && f.Name != "passwd" {
				return fmt.Errorf("stored as %q, want passwd", f.Name)
			}
			return err
		}},
		{"empty file", errs.Invalid, upload("empty.txt", text(0))},
		{"over the limit", errs.TooLarge, upload("big.txt", text(1001))},
		{"over the workspace quota", errs.TooLarge, func(w *world) error {
			for i := range 5 {
				if err := upload("fill.txt", text(1000))(w); err != nil {
					return fmt.Errorf("upload %d within the quota: %v", i+1, err)
				}
			}
			return upload("one-more.txt", text(10))(w)
		}},
	})
}

func TestUpdateProfile(t *testing.T) {
	name := func(s string) *string { return &s }
	id := func(n int64) *int64 { return &n }
	update := func(cmd func(*world) command.UpdateProfile) func(*world) error {
		return func(w *world) error {
			_, err := w.app.Commands.UpdateProfile.Handle(w.ctx, cmd(w))
			return err
		}
	}
	upload := func(w *world, by command.Actor, body []byte) int64 {
		w.t.Helper()
		f, err := w.app.Commands.UploadFile.Handle(w.ctx, command.UploadFile{Actor: by, Name: "f", Body: bytes.NewReader(body)})
		if err != nil {
			w.t.Fatal(err)
		}
		return f.ID
	}
	runCases(t, []commandCase{
		{"rename, told to the chats", ok, func(w *world) error {
			before := w.pending()
			u, err := w.app.Commands.UpdateProfile.Handle(w.ctx, command.UpdateProfile{Actor: w.m1, Fullname: name("  Renamed  ")})
			if err != nil {
				return err
			}
			// m1 is in the group, the channel and the direct chat: each
			// hears user.updated, and search re-indexes each one's
			// mentions of m1 (message.reindex).
			got := map[string][]int64{}
			for _, e := range w.pendingEvents()[before:] {
				got[e.Type] = append(got[e.Type], e.ChatID)
			}
			want := []int64{w.group, w.channel, w.direct}
			slices.Sort(want)
			for _, typ := range []string{command.EventUserUpdated, ports.EventMessagesReindex} {
				slices.Sort(got[typ])
				if !slices.Equal(got[typ], want) {
					return fmt.Errorf("%s in chats %v, want %v", typ, got[typ], want)
				}
			}
			if u.Fullname != "Renamed" || len(got) != 2 {
				return fmt.Errorf("renamed to %q with events %v, want Renamed and only those two types", u.Fullname, got)
			}
			// The same name again is no rename: user.updated only.
			before = w.pending()
			if _, err := w.app.Commands.UpdateProfile.Handle(w.ctx, command.UpdateProfile{Actor: w.m1, Fullname: name("Renamed")}); err != nil {
				return err
			}
			for _, e := range w.pendingEvents()[before:] {
				if e.Type != command.EventUserUpdated {
					return fmt.Errorf("the same name recorded %s", e.Type)
				}
			}
			return nil
		}},
		{"blank name", errs.Invalid, update(func(w *world) command.UpdateProfile {
			return command.UpdateProfile{Actor: w.m1, Fullname: name(" ")}
		})},
		{"negative avatar", errs.Invalid, update(func(w *world) command.UpdateProfile {
			return command.UpdateProfile{Actor: w.m1, AvatarFileID: id(-1)}
		})},
		{"unknown avatar file", errs.NotFound, update(func(w *world) command.UpdateProfile {
			return command.UpdateProfile{Actor: w.m1, AvatarFileID: id(1 << 40)}
		})},
		{"another user's image", errs.NotFound, update(func(w *world) command.UpdateProfile {
			return command.UpdateProfile{Actor: w.m1, AvatarFileID: id(upload(w, w.m2, imagingtest.PNG(w.t, 40, 30)))}
		})},
		{"not an image", errs.Invalid, update(func(w *world) command.UpdateProfile {
			return command.UpdateProfile{Actor: w.m1, AvatarFileID: id(upload(w, w.m1, []byte("plain text")))}
		})},
		{"own image, then removed", ok, func(w *world) error {
			u, err := w.app.Commands.UpdateProfile.Handle(w.ctx, command.UpdateProfile{Actor: w.m1, AvatarFileID: id(upload(w, w.m1, imagingtest.PNG(w.t, 40, 30)))})
			if err != nil || u.AvatarURL == nil {
				return fmt.Errorf("set avatar: %v, url %v", err, u.AvatarURL)
			}
			u, err = w.app.Commands.UpdateProfile.Handle(w.ctx, command.UpdateProfile{Actor: w.m1, AvatarFileID: id(0)})
			if err != nil || u.AvatarURL != nil {
				return fmt.Errorf("remove avatar: %v, url %v", err, u.AvatarURL)
			}
			return nil
		}},
	})
}

func TestPresenceCommands(t *testing.T) {
	connect := func(w *world, connID, platform string) error {
		return w.app.Commands.ConnectPresence.Handle(w.ctx, command.ConnectPresence{Actor: w.m1, ConnID: connID, Platform: platform})
	}
	touch := func(w *world, connID, status string) error {
		return w.app.Commands.TouchPresence.Handle(w.ctx, command.TouchPresence{Actor: w.m1, ConnID: connID, Status: status})
	}
	runCases(t, []commandCase{
		{"connect", ok, func(w *world) error { return connect(w, "c1", "web") }},
		{"connect without an id", errs.Invalid, func(w *world) error { return connect(w, "", "web") }},
		{"platform too long", errs.Invalid, func(w *world) error { return connect(w, "c1", strings.Repeat("p", 1000)) }},
		{"connection id reused", errs.Conflict, func(w *world) error {
			if err := connect(w, "c1", "web"); err != nil {
				return err
			}
			return connect(w, "c1", "web")
		}},
		{"declare away on a connection", ok, func(w *world) error {
			if err := connect(w, "c1", "web"); err != nil {
				return err
			}
			return touch(w, "c1", "away")
		}},
		{"declare an unknown status", errs.Invalid, func(w *world) error {
			if err := connect(w, "c1", "web"); err != nil {
				return err
			}
			return touch(w, "c1", "asleep")
		}},
		{"declare offline", errs.Invalid, func(w *world) error {
			if err := connect(w, "c1", "web"); err != nil {
				return err
			}
			return touch(w, "c1", "offline")
		}},
		{"declare without a connection", errs.Invalid, func(w *world) error { return touch(w, "", "online") }},
		{"activity of a REST write", ok, func(w *world) error { return touch(w, "", "") }},
		{"disconnect an unknown connection", ok, func(w *world) error {
			return w.app.Commands.DisconnectPresence.Handle(w.ctx, command.DisconnectPresence{Actor: w.m1, ConnID: "never"})
		}},
		{"connect, disconnect, connect again", ok, func(w *world) error {
			if err := connect(w, "c1", "web"); err != nil {
				return err
			}
			if err := w.app.Commands.DisconnectPresence.Handle(w.ctx, command.DisconnectPresence{Actor: w.m1, ConnID: "c1"}); err != nil {
				return err
			}
			return connect(w, "c1", "web")
		}},
		{"member types", ok, func(w *world) error {
			return w.app.Commands.SetTyping.Handle(w.ctx, command.SetTyping{Actor: w.m1, ChatID: w.group, IsTyping: true})
		}},
		{"types in no chat", errs.NotFound, func(w *world) error {
			return w.app.Commands.SetTyping.Handle(w.ctx, command.SetTyping{Actor: w.m1, ChatID: 0, IsTyping: true})
		}},
		{"types in another workspace's chat", errs.NotFound, func(w *world) error {
			return w.app.Commands.SetTyping.Handle(w.ctx, command.SetTyping{Actor: w.stranger, ChatID: w.group, IsTyping: true})
		}},
	})
}

// The orphan sweep removes files nobody attached within 24 h, bytes and
// thumbnails included, and keeps attached files, avatars and young ones.
func TestCleanFiles(t *testing.T) {
	t.Parallel()
	clock := memory.NewFakeClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	w := newWorldWith(t, memapp.Options{Clock: clock})
	up := func(body []byte) int64 {
		t.Helper()
		f, err := w.app.Commands.UploadFile.Handle(w.ctx, command.UploadFile{Actor: w.m1, Name: "f", Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		return f.ID
	}
	orphan := up(imagingtest.PNG(t, 40, 30)) // with a thumbnail
	attached := up([]byte("attached"))
	avatar := up(imagingtest.PNG(t, 40, 30))
	if _, _, err := w.app.Commands.SendMessage.Handle(w.ctx, command.SendMessage{Actor: w.m1, ChatID: w.group, Content: "see", AttachmentIDs: []int64{attached}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.Commands.UpdateProfile.Handle(w.ctx, command.UpdateProfile{Actor: w.m1, AvatarFileID: &avatar}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(23 * time.Hour)
	young := up([]byte("young"))
	if n, err := w.app.Commands.CleanFiles.SweepOrphans(w.ctx, 100); err != nil || n != 0 {
		t.Fatalf("sweep at 23 h: %d, %v; want nothing removed", n, err)
	}
	clock.Advance(2 * time.Hour) // the first three are 25 h old, young 2 h
	stored := w.env.Files.Len()
	if n, err := w.app.Commands.CleanFiles.SweepOrphans(w.ctx, 100); err != nil || n != 1 {
		t.Fatalf("sweep at 25 h: %d, %v; want the one orphan", n, err)
	}
	if got := stored - w.env.Files.Len(); got != 2 {
		t.Errorf("the sweep removed %d stored objects, want 2 (the orphan and its thumbnail)", got)
	}
	viewer := query.Viewer{UserID: w.m1.UserID, WorkspaceID: w.m1.WorkspaceID}
	if _, err := w.app.Queries.GetFile.Handle(w.ctx, viewer, orphan); errs.KindOf(err) != errs.NotFound {
		t.Errorf("swept orphan: %v, want not found", err)
	}
	for _, id := range []int64{attached, avatar, young} {
		if _, err := w.app.Queries.GetFile.Handle(w.ctx, viewer, id); err != nil {
			t.Errorf("file %d after the sweep: %v", id, err)
		}
	}
}
