package receipt_test

import (
	"slices"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/receipt"
)

var t0 = time.Date(2026, 11, 25, 19, 33, 47, 123456000, time.UTC)

func TestMarks(t *testing.T) {
	type mark struct {
		read bool
		seq  int64
	}
	cases := []struct {
		name                string
		delivered, read     int64 // pointers before
		lastSeq             int64
		mark                mark
		wantErr             errs.Kind // 0 (Internal) means no error
		wantMoves           []receipt.Move
		wantDelivered, want int64 // pointers after: delivered, read
	}{
		{name: "deliver forward", lastSeq: 10, mark: mark{false, 4},
			wantMoves:     []receipt.Move{{Kind: receipt.Delivered, FromSeq: 0, ToSeq: 4, At: t0}},
			wantDelivered: 4},
		{name: "deliver does not read", delivered: 2, read: 2, lastSeq: 10, mark: mark{false, 10},
			wantMoves:     []receipt.Move{{Kind: receipt.Delivered, FromSeq: 2, ToSeq: 10, At: t0}},
			wantDelivered: 10, want: 2},
		{name: "deliver back is ignored", delivered: 7, read: 3, lastSeq: 10, mark: mark{false, 5},
			wantDelivered: 7, want: 3},
		{name: "deliver same is ignored", delivered: 7, read: 3, lastSeq: 10, mark: mark{false, 7},
			wantDelivered: 7, want: 3},
		{name: "read moves delivered too when behind", delivered: 2, read: 1, lastSeq: 10, mark: mark{true, 6},
			wantMoves: []receipt.Move{
				{Kind: receipt.Delivered, FromSeq: 2, ToSeq: 6, At: t0},
				{Kind: receipt.Read, FromSeq: 1, ToSeq: 6, At: t0},
			},
			wantDelivered: 6, want: 6},
		{name: "read leaves delivered when ahead", delivered: 9, read: 1, lastSeq: 10, mark: mark{true, 6},
			wantMoves:     []receipt.Move{{Kind: receipt.Read, FromSeq: 1, ToSeq: 6, At: t0}},
			wantDelivered: 9, want: 6},
		{name: "read to delivered", delivered: 6, read: 1, lastSeq: 10, mark: mark{true, 6},
			wantMoves:     []receipt.Move{{Kind: receipt.Read, FromSeq: 1, ToSeq: 6, At: t0}},
			wantDelivered: 6, want: 6},
		{name: "read back is ignored", delivered: 8, read: 8, lastSeq: 10, mark: mark{true, 3},
			wantDelivered: 8, want: 8},
		{name: "read up to the last message", lastSeq: 10, mark: mark{true, 10},
			wantMoves: []receipt.Move{
				{Kind: receipt.Delivered, FromSeq: 0, ToSeq: 10, At: t0},
				{Kind: receipt.Read, FromSeq: 0, ToSeq: 10, At: t0},
			},
			wantDelivered: 10, want: 10},
		{name: "read beyond the last message", delivered: 2, read: 2, lastSeq: 10, mark: mark{true, 11},
			wantErr: errs.Invalid, wantDelivered: 2, want: 2},
		{name: "deliver beyond the last message", lastSeq: 10, mark: mark{false, 11},
			wantErr: errs.Invalid},
		{name: "beyond is invalid even when behind the pointer", delivered: 5, read: 5, lastSeq: 5, mark: mark{false, 6},
			wantErr: errs.Invalid, wantDelivered: 5, want: 5},
		{name: "a chat without messages", mark: mark{true, 1}, wantErr: errs.Invalid},
		{name: "read zero", lastSeq: 10, mark: mark{true, 0}, wantErr: errs.Invalid},
		{name: "deliver negative", lastSeq: 10, mark: mark{false, -3}, wantErr: errs.Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := receipt.UnmarshalFromDatabase(7, 8, tc.delivered, tc.read, tc.lastSeq)
			var moves []receipt.Move
			var err error
			if tc.mark.read {
				moves, err = r.MarkRead(tc.mark.seq, t0)
			} else {
				moves, err = r.MarkDelivered(tc.mark.seq, t0)
			}
			switch {
			case tc.wantErr != errs.Internal && !errs.Is(err, tc.wantErr):
				t.Fatalf("err = %v; want kind %v", err, tc.wantErr)
			case tc.wantErr == errs.Internal && err != nil:
				t.Fatalf("err = %v", err)
			}
			if !slices.Equal(moves, tc.wantMoves) {
				t.Errorf("moves = %+v; want %+v", moves, tc.wantMoves)
			}
			if r.LastDeliveredSeq() != tc.wantDelivered || r.LastReadSeq() != tc.want {
				t.Errorf("pointers delivered %d read %d; want %d %d", r.LastDeliveredSeq(), r.LastReadSeq(), tc.wantDelivered, tc.want)
			}
			if r.LastDeliveredSeq() < r.LastReadSeq() {
				t.Errorf("delivered %d behind read %d", r.LastDeliveredSeq(), r.LastReadSeq())
			}
			if r.ChatID() != 7 || r.UserID() != 8 || r.ChatLastSeq() != tc.lastSeq {
				t.Errorf("identity changed: chat %d user %d last_seq %d", r.ChatID(), r.UserID(), r.ChatLastSeq())
			}
		})
	}
}

// A sequence of marks records one move per forward step of each pointer,
// not one per message.
func TestMovesGrowWithMovesNotMessages(t *testing.T) {
	r := receipt.UnmarshalFromDatabase(1, 2, 0, 0, 100)
	var all []receipt.Move
	for i, step := range []struct {
		read bool
		seq  int64
	}{{false, 40}, {true, 30}, {true, 20}, {false, 35}, {true, 70}, {true, 100}, {false, 100}} {
		mark := r.MarkDelivered
		if step.read {
			mark = r.MarkRead
		}
		moves, err := mark(step.seq, t0.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		all = append(all, moves...)
	}
	want := []receipt.Move{
		{Kind: receipt.Delivered, FromSeq: 0, ToSeq: 40, At: t0},
		{Kind: receipt.Read, FromSeq: 0, ToSeq: 30, At: t0.Add(time.Minute)},
		{Kind: receipt.Delivered, FromSeq: 40, ToSeq: 70, At: t0.Add(4 * time.Minute)},
		{Kind: receipt.Read, FromSeq: 30, ToSeq: 70, At: t0.Add(4 * time.Minute)},
		{Kind: receipt.Delivered, FromSeq: 70, ToSeq: 100, At: t0.Add(5 * time.Minute)},
		{Kind: receipt.Read, FromSeq: 70, ToSeq: 100, At: t0.Add(5 * time.Minute)},
	}
	if !slices.Equal(all, want) {
		t.Fatalf("moves:\n got %+v\nwant %+v", all, want)
	}
	for _, tc := range []struct {
		kind receipt.Kind
		seq  int64
		at   time.Time
	}{
		{receipt.Delivered, 1, t0}, {receipt.Delivered, 40, t0}, {receipt.Delivered, 41, t0.Add(4 * time.Minute)},
		{receipt.Read, 30, t0.Add(time.Minute)}, {receipt.Read, 31, t0.Add(4 * time.Minute)},
		{receipt.Read, 100, t0.Add(5 * time.Minute)},
	} {
		at, ok := receipt.ReachedAt(all, tc.kind, tc.seq)
		if !ok || !at.Equal(tc.at) {
			t.Errorf("ReachedAt(%s, %d) = %v, %v; want %v", tc.kind, tc.seq, at, ok, tc.at)
		}
	}
	if _, ok := receipt.ReachedAt(all, receipt.Read, 101); ok {
		t.Errorf("ReachedAt beyond every move reports a time")
	}
	if _, ok := receipt.ReachedAt(all, receipt.Read, 0); ok {
		t.Errorf("ReachedAt(0) reports a time")
	}
}

func TestReachedAtTakesTheEarliestMove(t *testing.T) {
	// A member who left and came back starts from 0 again: two moves cover
	// seq 5; the first time counts.
	moves := []receipt.Move{
		{Kind: receipt.Read, FromSeq: 0, ToSeq: 10, At: t0},
		{Kind: receipt.Read, FromSeq: 0, ToSeq: 12, At: t0.Add(time.Hour)},
	}
	if at, ok := receipt.ReachedAt(moves, receipt.Read, 5); !ok || !at.Equal(t0) {
		t.Fatalf("ReachedAt = %v, %v; want %v", at, ok, t0)
	}
	if at, ok := receipt.ReachedAt(moves, receipt.Read, 11); !ok || !at.Equal(t0.Add(time.Hour)) {
		t.Fatalf("ReachedAt(11) = %v, %v; want %v", at, ok, t0.Add(time.Hour))
	}
	if _, ok := receipt.ReachedAt(moves, receipt.Delivered, 5); ok {
		t.Fatalf("ReachedAt of another kind reports a time")
	}
}
