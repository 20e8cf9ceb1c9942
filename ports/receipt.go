package ports

import (
	"context"

	"github.com/fechatter/fechatter/domain/receipt"
)

// ReceiptRepository stores members' delivered and read pointers (in
// chat_members) and every forward move of them (receipt moves), so that
// storage grows with moves, not with messages x members.
// MessageRepository.Append records the sender's own moves the same way.
type ReceiptRepository interface {
	// Get loads userID's receipt in chatID, with the chat's last seq;
	// errs.NotFound if the user is not a member (or the chat is gone).
	// Inside a transaction the membership is locked until it ends, so
	// concurrent moves of one member's pointers serialize and each starts
	// where the previous one ended.
	Get(ctx context.Context, chatID, userID int64) (*receipt.Receipt, error)
	// Save writes r's pointers, never moving one back, and stores one row
	// per move. Call it in the transaction that loaded r. errs.NotFound if
	// the user is no longer a member.
	Save(ctx context.Context, r *receipt.Receipt, moves []receipt.Move) error
	// Moves lists the stored moves of userID in chatID, oldest first (for
	// audits and the contract suite: it shows what storage holds).
	Moves(ctx context.Context, chatID, userID int64) ([]receipt.Move, error)
}
