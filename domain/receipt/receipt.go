// Package receipt holds the Receipt aggregate: one member's delivered and
// read pointers in a chat. Pointers only move forward and read implies
// delivered. Each forward move is kept as a range (from_seq, to_seq] with
// its time, so the delivered and read times of every message stay exact
// while storage grows with moves, not with messages x members.
package receipt

import (
	"time"

	"github.com/fechatter/fechatter/domain/errs"
)

// Kind is which pointer a move moved.
type Kind string

const (
	Delivered Kind = "delivered"
	Read      Kind = "read"
)

// Move is one forward move of a pointer: at At it reached every seq in
// (FromSeq, ToSeq].
type Move struct {
	Kind    Kind
	FromSeq int64
	ToSeq   int64
	At      time.Time
}

// Reached reports whether the move took its pointer over seq.
func (m Move) Reached(seq int64) bool { return m.FromSeq < seq && seq <= m.ToSeq }

// Receipt is one member's pointers in one chat, with the chat's last seq,
// which bounds how far they may move.
type Receipt struct {
	chatID      int64
	userID      int64
	delivered   int64
	read        int64
	chatLastSeq int64
}

// UnmarshalFromDatabase rebuilds a receipt from storage. It trusts its input.
func UnmarshalFromDatabase(chatID, userID, lastDeliveredSeq, lastReadSeq, chatLastSeq int64) *Receipt {
	return &Receipt{chatID: chatID, userID: userID, delivered: lastDeliveredSeq, read: lastReadSeq, chatLastSeq: chatLastSeq}
}

func (r *Receipt) ChatID() int64           { return r.chatID }
func (r *Receipt) UserID() int64           { return r.userID }
func (r *Receipt) LastDeliveredSeq() int64 { return r.delivered }
func (r *Receipt) LastReadSeq() int64      { return r.read }
func (r *Receipt) ChatLastSeq() int64      { return r.chatLastSeq }

// ValidateSeq checks a seq given by a client before anything is loaded:
// seqs start at 1.
func ValidateSeq(seq int64) error {
	if seq < 1 {
		return errs.Invalidf("seq must be a positive integer")
	}
	return nil
}

// MarkDelivered moves the delivered pointer forward to seq. A seq at or
// below the pointer changes nothing and returns no move.
func (r *Receipt) MarkDelivered(seq int64, now time.Time) ([]Move, error) {
	if err := r.check(seq); err != nil {
		return nil, err
	}
	var moves []Move
	r.moveTo(Delivered, seq, now, &moves)
	return moves, nil
}

// MarkRead moves the read pointer forward to seq, and the delivered
// pointer with it (at the same instant) when it was behind: a member who
// has read a message has received it.
func (r *Receipt) MarkRead(seq int64, now time.Time) ([]Move, error) {
	if err := r.check(seq); err != nil {
		return nil, err
	}
	var moves []Move
	r.moveTo(Delivered, seq, now, &moves)
	r.moveTo(Read, seq, now, &moves)
	return moves, nil
}

// check refuses a seq the member cannot have seen: before the first
// message or after the last one. Clamping would hide a client bug and
// acknowledge messages that do not exist yet.
func (r *Receipt) check(seq int64) error {
	if err := ValidateSeq(seq); err != nil {
		return err
	}
	if seq > r.chatLastSeq {
		return errs.Invalidf("seq %d is beyond the last message of chat %d (last_seq %d)", seq, r.chatID, r.chatLastSeq)
	}
	return nil
}

func (r *Receipt) moveTo(kind Kind, seq int64, now time.Time, moves *[]Move) {
	p := &r.delivered
	if kind == Read {
		p = &r.read
	}
	if seq <= *p {
		return
	}
	*moves = append(*moves, Move{Kind: kind, FromSeq: *p, ToSeq: seq, At: now})
	*p = seq
}

// ReachedAt is when a pointer of kind first reached seq, given the moves
// of one member: the earliest move that took it over seq. ok is false while
// none has. (A member who left and came back starts again from 0, so more
// than one move may cover a seq; the first one counts.)
func ReachedAt(moves []Move, kind Kind, seq int64) (at time.Time, ok bool) {
	for _, m := range moves {
		if m.Kind == kind && m.Reached(seq) && (!ok || m.At.Before(at)) {
			at, ok = m.At, true
		}
	}
	return at, ok
}
