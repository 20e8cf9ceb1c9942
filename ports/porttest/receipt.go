package porttest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/domain/receipt"
)

// Mark moves userID's pointer of kind in chatID to seq at the given time
// the way the MarkDelivered and MarkRead commands do, in one transaction,
// and returns the moves it made.
func (e Env) Mark(t testing.TB, chatID, userID int64, kind receipt.Kind, seq int64, at time.Time) []receipt.Move {
	t.Helper()
	moves, err := e.mark(context.Background(), chatID, userID, kind, seq, func() time.Time { return at })
	if err != nil {
		t.Fatalf("mark %s %d of user %d in chat %d: %v", kind, seq, userID, chatID, err)
	}
	return moves
}

func (e Env) mark(ctx context.Context, chatID, userID int64, kind receipt.Kind, seq int64, now func() time.Time) ([]receipt.Move, error) {
	var moves []receipt.Move
	err := e.Tx.InTx(ctx, func(ctx context.Context) error {
		r, err := e.Receipts.Get(ctx, chatID, userID)
		if err != nil {
			return err
		}
		if kind == receipt.Read {
			moves, err = r.MarkRead(seq, now())
		} else {
			moves, err = r.MarkDelivered(seq, now())
		}
		if err != nil || len(moves) == 0 {
			return err
		}
		return e.Receipts.Save(ctx, r, moves)
	})
	return moves, err
}

// RunReceiptRepository checks ReceiptRepository, and the moves
// MessageRepository.Append records for the sender. It uses Env.Workspaces,
// Env.Users, Env.Chats, Env.Messages and Env.Tx to set up, and
// Env.Receipts; newEnv is called once per case.
func RunReceiptRepository(t *testing.T, newEnv func(t *testing.T) Env) {
	ctx := context.Background()
	// setup makes a group of three users in a fresh workspace; the first
	// sends n messages.
	setup := func(t *testing.T, env Env, n int) (*chat.Chat, []int64) {
		t.Helper()
		ws := env.NewWorkspace(t)
		ids := userIDs(env.NewUsers(t, ws.ID, 3))
		c := env.NewChat(t, ws.ID, ids[0], chat.Group, ids[1:], Now().Add(-time.Hour))
		for range n {
			env.Send(t, c.ID(), ids[0], "hello", Now())
		}
		return c, ids
	}
	pointers := func(t *testing.T, env Env, chatID, userID int64) [2]int64 {
		t.Helper()
		m, err := env.Chats.Membership(ctx, chatID, userID)
		if err != nil {
			t.Fatalf("Membership: %v", err)
		}
		return [2]int64{m.LastDeliveredSeq, m.LastReadSeq}
	}
	moves := func(t *testing.T, env Env, chatID, userID int64) []receipt.Move {
		t.Helper()
		ms, err := env.Receipts.Moves(ctx, chatID, userID)
		if err != nil {
			t.Fatalf("Moves: %v", err)
		}
		return ms
	}

	t.Run("get reads the pointers and the chat's last seq", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env, 4)
		env.Send(t, c.ID(), us[1], "me too", Now())
		for _, tc := range []struct {
			user            int64
			delivered, read int64
		}{{us[0], 4, 4}, {us[1], 5, 5}, {us[2], 0, 0}} {
			r, err := env.Receipts.Get(ctx, c.ID(), tc.user)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if r.ChatID() != c.ID() || r.UserID() != tc.user || r.LastDeliveredSeq() != tc.delivered ||
				r.LastReadSeq() != tc.read || r.ChatLastSeq() != 5 {
				t.Fatalf("Get(user %d) = chat %d user %d delivered %d read %d last %d; want %d %d %d %d 5", tc.user,
					r.ChatID(), r.UserID(), r.LastDeliveredSeq(), r.LastReadSeq(), r.ChatLastSeq(), c.ID(), tc.user, tc.delivered, tc.read)
			}
		}
	})

	t.Run("get of a non-member or an unknown chat is not found", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, _ := setup(t, env, 1)
		outsider := env.NewUser(t, c.WorkspaceID())
		if _, err := env.Receipts.Get(ctx, c.ID(), outsider.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Get of a non-member = %v; want NotFound", err)
		}
		if _, err := env.Receipts.Get(ctx, c.ID()+1_000_000, outsider.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Get of an unknown chat = %v; want NotFound", err)
		}
	})

	t.Run("save moves the pointers and stores each move", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env, 10)
		t1, t2 := Now().Add(-2*time.Minute), Now().Add(-time.Minute)
		env.Mark(t, c.ID(), us[1], receipt.Delivered, 7, t1)
		env.Mark(t, c.ID(), us[1], receipt.Read, 9, t2)
		if got := pointers(t, env, c.ID(), us[1]); got != [2]int64{9, 9} {
			t.Fatalf("pointers %v; want delivered 9 read 9", got)
		}
		want := []receipt.Move{
			{Kind: receipt.Delivered, FromSeq: 0, ToSeq: 7, At: t1},
			{Kind: receipt.Delivered, FromSeq: 7, ToSeq: 9, At: t2},
			{Kind: receipt.Read, FromSeq: 0, ToSeq: 9, At: t2},
		}
		checkMoves(t, moves(t, env, c.ID(), us[1]), want)
		if got := moves(t, env, c.ID(), us[2]); len(got) != 0 {
			t.Fatalf("another member has moves %+v", got)
		}
	})

	t.Run("storage grows with moves, not messages", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env, 100)
		env.Mark(t, c.ID(), us[1], receipt.Delivered, 100, Now())
		for _, seq := range []int64{30, 70, 100} {
			env.Mark(t, c.ID(), us[1], receipt.Read, seq, Now())
		}
		count := map[receipt.Kind]int{}
		for _, m := range moves(t, env, c.ID(), us[1]) {
			count[m.Kind]++
		}
		if count[receipt.Delivered] != 1 || count[receipt.Read] != 3 || len(count) != 2 {
			t.Fatalf("moves by kind %v; want 1 delivered and 3 read", count)
		}
		// Each send moved its sender's pointers by one message: one move
		// of each kind per send (the other members got none).
		if n := len(moves(t, env, c.ID(), us[2])); n != 0 {
			t.Fatalf("a member who did nothing has %d moves", n)
		}
		if n := len(moves(t, env, c.ID(), us[0])); n != 200 {
			t.Fatalf("sender has %d moves; want one per send and pointer (200)", n)
		}
	})

	t.Run("save never moves a pointer back", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env, 10)
		stale, err := env.Receipts.Get(ctx, c.ID(), us[1])
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		env.Mark(t, c.ID(), us[1], receipt.Read, 8, Now())
		ms, err := stale.MarkRead(3, Now())
		if err != nil {
			t.Fatalf("MarkRead: %v", err)
		}
		if err := env.Tx.InTx(ctx, func(ctx context.Context) error { return env.Receipts.Save(ctx, stale, ms) }); err != nil {
			t.Fatalf("Save: %v", err)
		}
		if got := pointers(t, env, c.ID(), us[1]); got != [2]int64{8, 8} {
			t.Fatalf("pointers %v after a stale save; want delivered 8 read 8", got)
		}
	})

	t.Run("save rolls back with its transaction", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env, 5)
		env.Mark(t, c.ID(), us[1], receipt.Delivered, 2, Now())
		before := moves(t, env, c.ID(), us[1])
		boom := errors.New("boom")
		err := env.Tx.InTx(ctx, func(ctx context.Context) error {
			r, err := env.Receipts.Get(ctx, c.ID(), us[1])
			if err != nil {
				return err
			}
			ms, err := r.MarkRead(5, Now())
			if err != nil {
				return err
			}
			if err := env.Receipts.Save(ctx, r, ms); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v; want boom", err)
		}
		if got := pointers(t, env, c.ID(), us[1]); got != [2]int64{2, 0} {
			t.Fatalf("pointers %v after rollback; want delivered 2 read 0", got)
		}
		checkMoves(t, moves(t, env, c.ID(), us[1]), before)
	})

	t.Run("save for a member removed meanwhile is not found", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env, 3)
		err := env.Tx.InTx(ctx, func(ctx context.Context) error {
			r, err := env.Receipts.Get(ctx, c.ID(), us[2])
			if err != nil {
				return err
			}
			ms, err := r.MarkRead(3, Now())
			if err != nil {
				return err
			}
			if err := env.Chats.RemoveMember(ctx, c.ID(), us[2]); err != nil {
				return err
			}
			return env.Receipts.Save(ctx, r, ms)
		})
		if !errs.Is(err, errs.NotFound) {
			t.Fatalf("Save after removal = %v; want NotFound", err)
		}
		if got := moves(t, env, c.ID(), us[2]); len(got) != 0 {
			t.Fatalf("moves stored for a non-member: %+v", got)
		}
	})

	t.Run("append records the sender's moves", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env, 0)
		t1, t2 := Now().Add(-3*time.Minute), Now().Add(-time.Minute)
		env.Send(t, c.ID(), us[1], "first", t1)
		env.Send(t, c.ID(), us[0], "second", Now())
		env.Send(t, c.ID(), us[0], "third", Now())
		env.Send(t, c.ID(), us[1], "fourth", t2)
		want := []receipt.Move{
			{Kind: receipt.Delivered, FromSeq: 0, ToSeq: 1, At: t1},
			{Kind: receipt.Read, FromSeq: 0, ToSeq: 1, At: t1},
			{Kind: receipt.Delivered, FromSeq: 1, ToSeq: 4, At: t2},
			{Kind: receipt.Read, FromSeq: 1, ToSeq: 4, At: t2},
		}
		checkMoves(t, moves(t, env, c.ID(), us[1]), want)
		// A sender who had read everything moves over its own message only.
		t3 := Now()
		env.Mark(t, c.ID(), us[2], receipt.Read, 4, t3.Add(-time.Second))
		env.Send(t, c.ID(), us[2], "fifth", t3)
		checkMoves(t, moves(t, env, c.ID(), us[2]), []receipt.Move{
			{Kind: receipt.Delivered, FromSeq: 0, ToSeq: 4, At: t3.Add(-time.Second)},
			{Kind: receipt.Read, FromSeq: 0, ToSeq: 4, At: t3.Add(-time.Second)},
			{Kind: receipt.Delivered, FromSeq: 4, ToSeq: 5, At: t3},
			{Kind: receipt.Read, FromSeq: 4, ToSeq: 5, At: t3},
		})
	})

	t.Run("concurrent marks of one member serialize", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env, 40)
		var wg sync.WaitGroup
		fails := make([]error, 40)
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				kind := receipt.Read
				if i%3 == 0 {
					kind = receipt.Delivered
				}
				_, fails[i] = env.mark(ctx, c.ID(), us[1], kind, int64(40-i), Now)
			}()
		}
		wg.Wait()
		for i, err := range fails {
			if err != nil {
				t.Fatalf("mark %d: %v", i, err)
			}
		}
		final := pointers(t, env, c.ID(), us[1])
		if final[0] != 40 || final[1] < 1 {
			t.Fatalf("pointers %v; want delivered 40", final)
		}
		checkTiling(t, moves(t, env, c.ID(), us[1]), final)
	})

	t.Run("concurrent sends and marks of one member serialize", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t)
		c, us := setup(t, env, 30)
		var wg sync.WaitGroup
		fails := make([]error, 30)
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%3 == 0 {
					m, err := message.New(c.ID(), us[1], "answer", "", 0, Now())
					if err == nil {
						err = env.Append(ctx, m)
					}
					fails[i] = err
					return
				}
				kind := receipt.Read
				if i%3 == 1 {
					kind = receipt.Delivered
				}
				_, fails[i] = env.mark(ctx, c.ID(), us[1], kind, int64(30-i), Now)
			}()
		}
		wg.Wait()
		for i, err := range fails {
			if err != nil {
				t.Fatalf("goroutine %d: %v", i, err)
			}
		}
		final := pointers(t, env, c.ID(), us[1])
		if final != [2]int64{40, 40} {
			t.Fatalf("pointers %v; want both at 40 (the last of the member's 10 sends)", final)
		}
		checkTiling(t, moves(t, env, c.ID(), us[1]), final)
	})
}

// checkTiling checks that each kind's moves tile (0, pointer] with no
// overlap and no gap: every move started where the one before it ended.
// final holds the delivered and read pointers.
func checkTiling(t *testing.T, moves []receipt.Move, final [2]int64) {
	t.Helper()
	for i, kind := range []receipt.Kind{receipt.Delivered, receipt.Read} {
		var ranges [][2]int64
		for _, m := range moves {
			if m.Kind == kind {
				ranges = append(ranges, [2]int64{m.FromSeq, m.ToSeq})
			}
		}
		slices.SortFunc(ranges, func(a, b [2]int64) int { return int(a[0] - b[0]) })
		at := int64(0)
		for _, r := range ranges {
			if r[0] != at {
				t.Fatalf("%s moves %v do not tile (0, %d]", kind, ranges, final[i])
			}
			at = r[1]
		}
		if at != final[i] {
			t.Fatalf("%s moves %v end at %d; pointer is %d", kind, ranges, at, final[i])
		}
	}
}

// checkMoves compares moves, times as instants.
func checkMoves(t *testing.T, got, want []receipt.Move) {
	t.Helper()
	same := slices.EqualFunc(got, want, func(a, b receipt.Move) bool {
		return a.Kind == b.Kind && a.FromSeq == b.FromSeq && a.ToSeq == b.ToSeq && sameTime(a.At, b.At)
	})
	if !same {
		t.Fatalf("moves:\n got %s\nwant %s", describe(got), describe(want))
	}
}
