package memory

import (
	"context"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/receipt"
	"github.com/fechatter/fechatter/ports"
)

var (
	_ ports.ReceiptRepository = (*ReceiptRepo)(nil)
	_ query.ReceiptReadModel  = (*ReceiptReadModel)(nil)
)

// receiptMoveRow is one row of receipt moves, kept on its chat.
type receiptMoveRow struct {
	userID int64
	move   receipt.Move
}

// Receipts is the ports.ReceiptRepository over this store.
func (s *Store) Receipts() *ReceiptRepo { return &ReceiptRepo{s} }

// ReceiptReadModel is the query.ReceiptReadModel over this store.
func (s *Store) ReceiptReadModel() *ReceiptReadModel { return &ReceiptReadModel{s} }

// addMoves stores moves of userID in c, undone with the transaction t. It
// refuses what the Postgres table's checks refuse.
func (s *Store) addMoves(t *tx, c *chatRow, userID int64, moves []receipt.Move) error {
	for _, m := range moves {
		if (m.Kind != receipt.Delivered && m.Kind != receipt.Read) || m.FromSeq < 0 || m.ToSeq <= m.FromSeq {
			return errs.Invalidf("receipt move %+v is not a forward move", m)
		}
	}
	n := len(c.moves)
	for _, m := range moves {
		c.moves = append(c.moves, receiptMoveRow{userID: userID, move: m})
	}
	t.onRollback(func() { c.moves = c.moves[:n] })
	return nil
}

// ReceiptRepo is the ports.ReceiptRepository of a Store.
type ReceiptRepo struct{ s *Store }

// Get reads the member's pointers; inside a transaction the store's lock
// already serializes everything.
func (r *ReceiptRepo) Get(ctx context.Context, chatID, userID int64) (*receipt.Receipt, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	c, ok := s.chats[chatID]
	if !ok {
		return nil, errs.NotFoundf("chat %d not found", chatID)
	}
	i := c.member(userID)
	if i < 0 {
		return nil, errs.NotFoundf("user %d is not a member of chat %d", userID, chatID)
	}
	m := c.members[i]
	return receipt.UnmarshalFromDatabase(chatID, userID, m.LastDeliveredSeq, m.LastReadSeq, c.lastSeq), nil
}

// Save fails outside a transaction, as the port asks for one.
func (r *ReceiptRepo) Save(ctx context.Context, rc *receipt.Receipt, moves []receipt.Move) error {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer s.leave(t)
	if t == nil {
		return errs.New(errs.Internal, "ReceiptRepository.Save must run inside a transaction")
	}
	c, i, err := s.memberRow(rc.ChatID(), rc.UserID())
	if err != nil {
		return err
	}
	if err := s.addMoves(t, c, rc.UserID(), moves); err != nil {
		return err
	}
	mb := &c.members[i]
	old := *mb
	mb.LastDeliveredSeq = max(mb.LastDeliveredSeq, rc.LastDeliveredSeq())
	mb.LastReadSeq = max(mb.LastReadSeq, rc.LastReadSeq())
	// Members may be removed later in the transaction: undo by user, not index.
	t.onRollback(func() {
		if j := c.member(old.UserID); j >= 0 {
			c.members[j].LastDeliveredSeq, c.members[j].LastReadSeq = old.LastDeliveredSeq, old.LastReadSeq
		}
	})
	return nil
}

// Moves lists userID's moves in chatID, oldest first; none for an
// unknown chat.
func (r *ReceiptRepo) Moves(ctx context.Context, chatID, userID int64) ([]receipt.Move, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	c, ok := s.chats[chatID]
	if !ok {
		return nil, nil
	}
	return c.movesOf(userID), nil
}

func (c *chatRow) movesOf(userID int64) []receipt.Move {
	var out []receipt.Move
	for _, row := range c.moves {
		if row.userID == userID {
			out = append(out, row.move)
		}
	}
	return out
}

// ReceiptReadModel is the query.ReceiptReadModel of a Store.
type ReceiptReadModel struct{ s *Store }

func (r *ReceiptReadModel) Receipts(ctx context.Context, chatID, seq int64) ([]query.Receipt, error) {
	s := r.s
	t, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer s.leave(t)
	msg := s.bySeq(chatID, seq)
	if msg == nil {
		return nil, errs.NotFoundf("message %d not found in chat %d", seq, chatID)
	}
	c := s.chats[chatID]
	out := []query.Receipt{}
	for _, m := range c.members {
		if m.UserID == msg.senderID {
			continue
		}
		moves := c.movesOf(m.UserID)
		rc := query.Receipt{UserID: m.UserID}
		if at, ok := receipt.ReachedAt(moves, receipt.Delivered, seq); ok {
			rc.DeliveredAt = utcPtr(at)
		}
		if at, ok := receipt.ReachedAt(moves, receipt.Read, seq); ok {
			rc.ReadAt = utcPtr(at)
		}
		out = append(out, rc)
	}
	return out, nil
}

func utcPtr(t time.Time) *time.Time {
	u := t.UTC()
	return &u
}

// addSenderMoves records the moves a send makes to its sender's pointers
// (from delivered and read up to seq), as the Postgres Append does.
func (s *Store) addSenderMoves(t *tx, c *chatRow, senderID, delivered, read, seq int64, at time.Time) {
	var moves []receipt.Move
	if delivered < seq {
		moves = append(moves, receipt.Move{Kind: receipt.Delivered, FromSeq: delivered, ToSeq: seq, At: at})
	}
	if read < seq {
		moves = append(moves, receipt.Move{Kind: receipt.Read, FromSeq: read, ToSeq: seq, At: at})
	}
	if err := s.addMoves(t, c, senderID, moves); err != nil {
		panic(err) // forward moves by construction
	}
}
