package querytest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports/porttest"
)

// RunMessageReadModel checks query.MessageReadModel. It writes through
// Env.Workspaces, Env.Users, Env.Chats, Env.Messages and Env.Tx and reads
// through Env.MessageReads; newEnv is called once per case.
func RunMessageReadModel(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()
	// setup stores a chat with five messages (seq 2 edited, seq 3 a
	// tombstone, seq 4 a reply with a key) next to another chat with three.
	setup := func(t *testing.T, env Env) (int64, []query.Message) {
		t.Helper()
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 2)
		t0 := porttest.Now().Add(-time.Hour)
		c := env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID}, t0)
		other := env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID}, t0)
		var ms []*message.Message
		for i := range 5 {
			at := t0.Add(time.Duration(i) * time.Minute)
			if i == 3 {
				m, err := message.New(c.ID(), u[1].ID, "a reply", porttest.Unique("k-"), ms[0].ID(), at)
				if err != nil {
					t.Fatalf("message.New: %v", err)
				}
				if err := env.Append(ctx, m); err != nil {
					t.Fatalf("Append: %v", err)
				}
				ms = append(ms, m)
				continue
			}
			ms = append(ms, env.Send(t, c.ID(), u[i%2].ID, fmt.Sprintf("message %d", i+1), at))
			env.Send(t, other.ID(), u[0].ID, "elsewhere", at)
		}
		if err := ms[1].Edit(u[1].ID, "edited", t0.Add(10*time.Minute)); err != nil {
			t.Fatalf("Edit: %v", err)
		}
		if err := ms[2].Delete(u[1].ID, true, t0.Add(11*time.Minute)); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		for _, m := range ms[1:3] {
			if err := env.Messages.Save(ctx, m); err != nil {
				t.Fatalf("Save: %v", err)
			}
		}
		want := make([]query.Message, len(ms))
		for i, m := range ms {
			want[i] = query.MessageOf(m)
		}
		return c.ID(), want
	}

	t.Run("ListMessages pages", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		chatID, all := setup(t, env)
		cases := []struct {
			page    query.Page
			seqs    []int64
			hasMore bool
		}{
			{query.Page{Limit: 2}, []int64{5, 4}, true},
			{query.Page{BeforeSeq: 4, Limit: 2}, []int64{3, 2}, true},
			{query.Page{BeforeSeq: 2, Limit: 2}, []int64{1}, false},
			{query.Page{BeforeSeq: 3, Limit: 2}, []int64{2, 1}, false},
			{query.Page{BeforeSeq: 1, Limit: 2}, nil, false},
			{query.Page{Limit: 5}, []int64{5, 4, 3, 2, 1}, false},
			{query.Page{Limit: 50}, []int64{5, 4, 3, 2, 1}, false},
			{query.Page{BeforeSeq: 100, Limit: 2}, []int64{5, 4}, true},
			{query.Page{Forward: true, Limit: 2}, []int64{1, 2}, true},
			{query.Page{Forward: true, AfterSeq: 2, Limit: 2}, []int64{3, 4}, true},
			{query.Page{Forward: true, AfterSeq: 3, Limit: 2}, []int64{4, 5}, false},
			{query.Page{Forward: true, AfterSeq: 4, Limit: 2}, []int64{5}, false},
			{query.Page{Forward: true, AfterSeq: 5, Limit: 2}, nil, false},
			{query.Page{Forward: true, AfterSeq: 0, Limit: 200}, []int64{1, 2, 3, 4, 5}, false},
		}
		for _, c := range cases {
			got, more, err := env.MessageReads.ListMessages(ctx, chatID, c.page)
			if err != nil {
				t.Fatalf("ListMessages(%+v): %v", c.page, err)
			}
			seqs := make([]int64, len(got))
			for i, m := range got {
				seqs[i] = m.Seq
			}
			if !slices.Equal(seqs, c.seqs) || more != c.hasMore {
				t.Fatalf("ListMessages(%+v) = %v, has_more %v; want %v, %v", c.page, seqs, more, c.seqs, c.hasMore)
			}
			for _, m := range got {
				checkMessage(t, m, all[m.Seq-1])
			}
		}
	})

	t.Run("ListMessages of a chat without messages", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		ws := env.NewWorkspace(t)
		u := env.NewUsers(t, ws.ID, 2)
		c := env.NewChat(t, ws.ID, u[0].ID, chat.Group, []int64{u[1].ID}, porttest.Now())
		for _, p := range []query.Page{{Limit: 10}, {Forward: true, Limit: 10}} {
			got, more, err := env.MessageReads.ListMessages(ctx, c.ID(), p)
			if err != nil || len(got) != 0 || more {
				t.Fatalf("ListMessages(%+v) = %v, %v, %v; want nothing", p, got, more, err)
			}
		}
	})

	t.Run("MessageBySeq", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		chatID, all := setup(t, env)
		for _, want := range all {
			got, err := env.MessageReads.MessageBySeq(ctx, chatID, want.Seq)
			if err != nil {
				t.Fatalf("MessageBySeq(%d): %v", want.Seq, err)
			}
			checkMessage(t, got, want)
		}
		for _, c := range []struct {
			chatID, seq int64
		}{{chatID, 6}, {chatID, 0}, {1 << 60, 1}} {
			if _, err := env.MessageReads.MessageBySeq(ctx, c.chatID, c.seq); !errs.Is(err, errs.NotFound) {
				t.Fatalf("MessageBySeq(%d, %d): err = %v; want NotFound", c.chatID, c.seq, err)
			}
		}
	})
}
