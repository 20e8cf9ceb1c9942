package querytest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/receipt"
	"github.com/fechatter/fechatter/ports/porttest"
)

// RunReceiptReadModel checks query.ReceiptReadModel. It writes through
// Env.Workspaces, Env.Users, Env.Chats, Env.Messages, Env.Receipts and
// Env.Tx and reads through Env.ReceiptReads; newEnv is called once per case.
func RunReceiptReadModel(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()
	t0 := porttest.Now().Add(-time.Hour)
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	// setup makes a group of alice, bob and carol (joined in that order);
	// alice sends n messages at t0.
	setup := func(t *testing.T, env Env, n int) (int64, []int64) {
		t.Helper()
		ws := env.NewWorkspace(t)
		us := env.NewUsers(t, ws.ID, 3)
		c := env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID, us[2].ID}, t0)
		for i := range n {
			env.Send(t, c.ID(), us[0].ID, fmt.Sprintf("m%d", i+1), t0)
		}
		return c.ID(), []int64{us[0].ID, us[1].ID, us[2].ID}
	}
	receipts := func(t *testing.T, env Env, chatID, seq int64) []query.Receipt {
		t.Helper()
		rs, err := env.ReceiptReads.Receipts(ctx, chatID, seq)
		if err != nil {
			t.Fatalf("Receipts(%d): %v", seq, err)
		}
		return rs
	}
	tp := func(t time.Time) *time.Time { return &t }

	t.Run("read up to 10 shows read_at on 1..10 and null on 11", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		chatID, us := setup(t, env, 12)
		env.Mark(t, chatID, us[1], receipt.Read, 10, at(5))
		for seq := int64(1); seq <= 12; seq++ {
			want := []query.Receipt{{UserID: us[1]}, {UserID: us[2]}}
			if seq <= 10 {
				want[0] = query.Receipt{UserID: us[1], DeliveredAt: tp(at(5)), ReadAt: tp(at(5))}
			}
			checkReceipts(t, seq, receipts(t, env, chatID, seq), want)
		}
	})

	t.Run("each time is when that pointer first reached the message", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		chatID, us := setup(t, env, 10)
		env.Mark(t, chatID, us[1], receipt.Delivered, 5, at(1))
		env.Mark(t, chatID, us[1], receipt.Read, 3, at(2))
		env.Mark(t, chatID, us[1], receipt.Read, 8, at(3)) // delivered moves 5 -> 8 with it
		env.Mark(t, chatID, us[1], receipt.Read, 6, at(4)) // back: ignored
		env.Mark(t, chatID, us[2], receipt.Delivered, 10, at(6))
		for _, tc := range []struct {
			seq                       int64
			bobDelivered, bobRead     *time.Time
			carolDelivered, carolRead *time.Time
		}{
			{1, tp(at(1)), tp(at(2)), tp(at(6)), nil},
			{3, tp(at(1)), tp(at(2)), tp(at(6)), nil},
			{4, tp(at(1)), tp(at(3)), tp(at(6)), nil},
			{5, tp(at(1)), tp(at(3)), tp(at(6)), nil},
			{6, tp(at(3)), tp(at(3)), tp(at(6)), nil},
			{8, tp(at(3)), tp(at(3)), tp(at(6)), nil},
			{9, nil, nil, tp(at(6)), nil},
			{10, nil, nil, tp(at(6)), nil},
		} {
			checkReceipts(t, tc.seq, receipts(t, env, chatID, tc.seq), []query.Receipt{
				{UserID: us[1], DeliveredAt: tc.bobDelivered, ReadAt: tc.bobRead},
				{UserID: us[2], DeliveredAt: tc.carolDelivered, ReadAt: tc.carolRead},
			})
		}
	})

	t.Run("a send reads what came before it, and its sender is left out", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		chatID, us := setup(t, env, 2)
		env.Send(t, chatID, us[1], "bob answers", at(7))
		checkReceipts(t, 1, receipts(t, env, chatID, 1), []query.Receipt{
			{UserID: us[1], DeliveredAt: tp(at(7)), ReadAt: tp(at(7))},
			{UserID: us[2]},
		})
		// Bob's own message: alice (at 2 of 3) and carol, not bob.
		checkReceipts(t, 3, receipts(t, env, chatID, 3), []query.Receipt{{UserID: us[0]}, {UserID: us[2]}})
	})

	t.Run("only current members, in join order", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		chatID, us := setup(t, env, 1)
		late := env.NewUser(t, env.MustGetChat(t, chatID).WorkspaceID())
		if err := env.Chats.AddMembers(ctx, chatID, []chat.Membership{{UserID: late.ID, Role: chat.Member, JoinedAt: at(1)}}); err != nil {
			t.Fatalf("AddMembers: %v", err)
		}
		env.Mark(t, chatID, late.ID, receipt.Read, 1, at(2))
		if err := env.Chats.RemoveMember(ctx, chatID, us[1]); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		checkReceipts(t, 1, receipts(t, env, chatID, 1), []query.Receipt{
			{UserID: us[2]},
			{UserID: late.ID, DeliveredAt: tp(at(2)), ReadAt: tp(at(2))},
		})
		// With every other member gone, the message has no receipts but
		// still exists.
		if err := env.Chats.RemoveMember(ctx, chatID, us[2]); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		if err := env.Chats.RemoveMember(ctx, chatID, late.ID); err != nil {
			t.Fatalf("RemoveMember: %v", err)
		}
		if rs := receipts(t, env, chatID, 1); rs == nil || len(rs) != 0 {
			t.Fatalf("receipts with only the sender left = %#v; want an empty list", rs)
		}
	})

	t.Run("a message that does not exist is not found", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		chatID, _ := setup(t, env, 2)
		for _, c := range []struct{ chat, seq int64 }{{chatID, 3}, {chatID, 0}, {chatID + 1_000_000, 1}} {
			if _, err := env.ReceiptReads.Receipts(ctx, c.chat, c.seq); !errs.Is(err, errs.NotFound) {
				t.Fatalf("Receipts(chat %d, seq %d) = %v; want NotFound", c.chat, c.seq, err)
			}
		}
	})
}

func checkReceipts(t *testing.T, seq int64, got, want []query.Receipt) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].UserID == want[i].UserID && sameTimePtr(got[i].DeliveredAt, want[i].DeliveredAt) &&
			sameTimePtr(got[i].ReadAt, want[i].ReadAt)
	}
	if !ok {
		t.Fatalf("receipts of seq %d:\n got %s\nwant %s", seq, showReceipts(got), showReceipts(want))
	}
}

func showReceipts(rs []query.Receipt) string {
	s := "["
	for _, r := range rs {
		show := func(p *time.Time) string {
			if p == nil {
				return "null"
			}
			return p.UTC().Format(time.RFC3339Nano)
		}
		s += fmt.Sprintf(" {user %d delivered %s read %s}", r.UserID, show(r.DeliveredAt), show(r.ReadAt))
	}
	return s + " ]"
}
