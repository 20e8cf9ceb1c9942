package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/receipt"
	"github.com/fechatter/fechatter/ports/porttest"
)

// The rows themselves, counted in the table: a member who reads 100
// messages in 3 moves costs 3 read rows (and the delivered rows the reads
// made), not 100.
func TestReceiptRowsGrowWithMoves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	env := envOn(db)
	ws := env.NewWorkspace(t)
	us := env.NewUsers(t, ws.ID, 3)
	c := env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID, us[2].ID}, porttest.Now())
	for range 100 {
		env.Send(t, c.ID(), us[0].ID, "hello", porttest.Now())
	}
	for _, seq := range []int64{25, 60, 100} {
		env.Mark(t, c.ID(), us[1].ID, receipt.Read, seq, porttest.Now())
	}
	env.Mark(t, c.ID(), us[1].ID, receipt.Read, 40, porttest.Now()) // back: no row

	count := func(userID int64, kind receipt.Kind) int {
		t.Helper()
		var n int
		err := db.NewRaw(`SELECT count(*) FROM receipt_moves WHERE chat_id = ? AND user_id = ? AND kind = ?`,
			c.ID(), userID, string(kind)).Scan(ctx, &n)
		if err != nil {
			t.Fatalf("count rows: %v", err)
		}
		return n
	}
	if r, d := count(us[1].ID, receipt.Read), count(us[1].ID, receipt.Delivered); r != 3 || d != 3 {
		t.Fatalf("reader has %d read and %d delivered rows; want 3 and 3 (each read moved delivered with it)", r, d)
	}
	if r, d := count(us[2].ID, receipt.Read), count(us[2].ID, receipt.Delivered); r != 0 || d != 0 {
		t.Fatalf("idle member has %d read and %d delivered rows; want none", r, d)
	}
	var total int
	if err := db.NewRaw(`SELECT count(*) FROM receipt_moves WHERE chat_id = ?`, c.ID()).Scan(ctx, &total); err != nil {
		t.Fatal(err)
	}
	// The sender's 100 sends: one row per pointer per send. Nothing per
	// message x member.
	if total != 200+6 {
		t.Fatalf("chat has %d receipt rows; want 206 (200 from the sends, 6 from the reads)", total)
	}
	m, err := env.Chats.Membership(ctx, c.ID(), us[1].ID)
	if err != nil || m.LastReadSeq != 100 || m.LastDeliveredSeq != 100 {
		t.Fatalf("reader's membership %+v, %v; want both pointers at 100", m, err)
	}
}

// A read racing the removal of the reader must not deadlock: the removal
// locks the chat row, then the member row; the read locks the member row
// and needs the chat row (its receipt_moves row references it), so the read
// takes its share of the chat row first.
func TestReceiptSaveAndMemberRemovalDoNotDeadlock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	env := envOn(db)
	ws := env.NewWorkspace(t)
	us := env.NewUsers(t, ws.ID, 3)
	c := env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID, us[2].ID}, porttest.Now())
	env.Send(t, c.ID(), us[0].ID, "hello", porttest.Now())

	loaded, locked := make(chan struct{}), make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		readErr <- env.Tx.InTx(ctx, func(ctx context.Context) error {
			r, err := env.Receipts.Get(ctx, c.ID(), us[2].ID)
			if err != nil {
				return err
			}
			close(loaded)
			select { // the removal holds the chat row, or waits for us
			case <-locked:
			case <-time.After(300 * time.Millisecond):
			}
			moves, err := r.MarkRead(1, porttest.Now())
			if err != nil {
				return err
			}
			return env.Receipts.Save(ctx, r, moves)
		})
	}()
	<-loaded
	removeErr := env.Tx.InTx(ctx, func(ctx context.Context) error {
		cc, err := env.Chats.Get(ctx, c.ID()) // FOR UPDATE of the chat row
		if err != nil {
			return err
		}
		close(locked)
		if _, err := cc.RemoveMember(us[0].ID, us[2].ID, porttest.Now()); err != nil {
			return err
		}
		return env.Chats.RemoveMember(ctx, c.ID(), us[2].ID)
	})
	if err := <-readErr; err != nil && !errs.Is(err, errs.NotFound) {
		t.Fatalf("read: %v", err)
	}
	if removeErr != nil {
		t.Fatalf("remove: %v", removeErr)
	}
}
