package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/postgres/pgtest"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

// Behaviour of this adapter beyond the shared contracts.

func TestAdapterSpecifics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	env := envOn(db)

	t.Run("append records the sender's pointer moves", func(t *testing.T) {
		t.Parallel()
		ws := env.NewWorkspace(t)
		us := env.NewUsers(t, ws.ID, 2)
		c := env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID}, porttest.Now())
		env.Send(t, c.ID(), us[1].ID, "one", porttest.Now())
		env.Send(t, c.ID(), us[1].ID, "two", porttest.Now())
		at := porttest.Now()
		env.Send(t, c.ID(), us[0].ID, "three", at)
		type move struct {
			UserID  int64     `bun:"user_id"`
			Kind    string    `bun:"kind"`
			FromSeq int64     `bun:"from_seq"`
			ToSeq   int64     `bun:"to_seq"`
			At      time.Time `bun:"at"`
		}
		var moves []move
		if err := db.NewRaw(`SELECT user_id, kind, from_seq, to_seq, at FROM receipt_moves
			WHERE chat_id = ? AND user_id = ? ORDER BY kind`, c.ID(), us[0].ID).Scan(ctx, &moves); err != nil {
			t.Fatalf("read moves: %v", err)
		}
		if len(moves) != 2 || moves[0].Kind != "delivered" || moves[1].Kind != "read" {
			t.Fatalf("moves = %+v; want one delivered and one read", moves)
		}
		for _, m := range moves {
			if m.FromSeq != 0 || m.ToSeq != 3 || !m.At.Equal(at) {
				t.Fatalf("move = %+v; want 0 -> 3 at %v", m, at)
			}
		}
		var n int
		if err := db.NewRaw(`SELECT count(*) FROM receipt_moves WHERE chat_id = ? AND user_id = ?`, c.ID(), us[1].ID).Scan(ctx, &n); err != nil || n != 4 {
			t.Fatalf("moves of the other sender = %d, %v; want 4 (0->1, 1->2, each kind)", n, err)
		}
	})

	t.Run("a duplicate key leaves the transaction usable and the seq gapless", func(t *testing.T) {
		t.Parallel()
		ws := env.NewWorkspace(t)
		us := env.NewUsers(t, ws.ID, 2)
		c := env.NewChat(t, ws.ID, us[0].ID, chat.Group, []int64{us[1].ID}, porttest.Now())
		key := porttest.Unique("k-")
		first := env.SendKey(t, c.ID(), us[0].ID, "first", key, porttest.Now())
		var replay *message.Message
		err := env.Tx.InTx(ctx, func(ctx context.Context) error {
			dup, _ := message.New(c.ID(), us[0].ID, "first", key, 0, porttest.Now())
			err := env.Messages.Append(ctx, dup)
			if !errors.Is(err, ports.ErrDuplicateIdempotencyKey) {
				t.Errorf("Append = %v; want ErrDuplicateIdempotencyKey", err)
			}
			replay, err = env.Messages.ByIdempotencyKey(ctx, us[0].ID, key)
			return err
		})
		if err != nil {
			t.Fatalf("InTx committing after the duplicate: %v", err)
		}
		if replay.ID() != first.ID() {
			t.Fatalf("replay found message %d; want %d", replay.ID(), first.ID())
		}
		if next := env.Send(t, c.ID(), us[1].ID, "next", porttest.Now()); next.Seq() != 2 {
			t.Fatalf("next seq = %d; want 2", next.Seq())
		}
	})

	t.Run("a taken direct chat leaves the transaction usable", func(t *testing.T) {
		t.Parallel()
		ws := env.NewWorkspace(t)
		us := env.NewUsers(t, ws.ID, 2)
		existing := env.NewChat(t, ws.ID, us[0].ID, chat.Direct, []int64{us[1].ID}, porttest.Now())
		err := env.Tx.InTx(ctx, func(ctx context.Context) error {
			dup, _ := chat.New(ws.ID, us[1].ID, chat.Direct, "", "", []int64{us[0].ID}, chat.DefaultLimits, porttest.Now())
			if err := env.Chats.Create(ctx, dup); !errs.Is(err, errs.Conflict) {
				t.Errorf("Create = %v; want Conflict", err)
			}
			found, err := env.Chats.FindDirect(ctx, ws.ID, dup.DirectKey())
			if err == nil && found.ID() != existing.ID() {
				t.Errorf("FindDirect found %d; want %d", found.ID(), existing.ID())
			}
			return err
		})
		if err != nil {
			t.Fatalf("InTx: %v", err)
		}
	})

	t.Run("outbox stores JSON and signals Add outside a transaction at once", func(t *testing.T) {
		t.Parallel()
		e := envOn(db)
		ev := ports.Event{ID: porttest.UUID(), Type: ports.EventChatCreated, Version: ports.EventVersion,
			OccurredAt: time.Now(), WorkspaceID: 1, ChatID: 2, Data: []byte(`{"b":1,"a":[true]}`)}
		if err := e.Outbox.Add(ctx, ev); err != nil {
			t.Fatalf("Add: %v", err)
		}
		select {
		case <-e.OutboxStore.Notify():
		default:
			t.Fatalf("no signal after an Add outside a transaction")
		}
		var kind string
		if err := db.NewRaw(`SELECT jsonb_typeof(payload::jsonb) || '/' || (payload::jsonb->'data'->>'b') FROM outbox WHERE id = ?`, ev.ID).Scan(ctx, &kind); err != nil || kind != "object/1" {
			t.Fatalf("stored payload kind %q, %v; want a JSON object with the data inside", kind, err)
		}
		entries, err := e.OutboxStore.Pending(ctx, 10000)
		if err != nil {
			t.Fatalf("Pending: %v", err)
		}
		for _, en := range entries {
			if en.Event.ID == ev.ID {
				if string(en.Event.Data) != `{"b":1,"a":[true]}` { // byte for byte as added
					t.Fatalf("data read back as %s", en.Event.Data)
				}
				if err := e.OutboxStore.Remove(ctx, []int64{en.Position}); err != nil {
					t.Fatalf("Remove: %v", err)
				}
				return
			}
		}
		t.Fatalf("event not pending")
	})

	t.Run("a rolled-back Add does not signal", func(t *testing.T) {
		t.Parallel()
		e := envOn(db)
		boom := errors.New("boom")
		err := e.Tx.InTx(ctx, func(ctx context.Context) error {
			ev := ports.Event{ID: porttest.UUID(), Type: ports.EventChatCreated, OccurredAt: time.Now(), Data: []byte(`{}`)}
			if err := e.Outbox.Add(ctx, ev); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v; want boom", err)
		}
		select {
		case <-e.OutboxStore.Notify():
			t.Fatalf("signal after a rollback")
		default:
		}
	})
}
