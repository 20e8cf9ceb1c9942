package query

import (
	"context"

	"github.com/fechatter/fechatter/domain/errs"
)

// ReceiptReadModel answers who has received and read a message.
type ReceiptReadModel interface {
	// Receipts returns one Receipt per current member of chatID other
	// than the sender of message seq, in the order they joined. Each time
	// is that of the earliest stored move of the member's pointer that
	// took it over seq (from_seq < seq <= to_seq). One round trip;
	// errs.NotFound if the message does not exist.
	Receipts(ctx context.Context, chatID, seq int64) ([]Receipt, error)
}

// GetReceipts answers GET /chats/{id}/messages/{seq}/receipts.
type GetReceipts struct {
	members  MembershipChecker
	receipts ReceiptReadModel
}

// NewGetReceipts builds the handler.
func NewGetReceipts(members MembershipChecker, receipts ReceiptReadModel) GetReceipts {
	mustHave(members, receipts)
	return GetReceipts{members: members, receipts: receipts}
}

// Handle returns the receipts of one message of a chat the viewer belongs
// to; NotFound for a non-member or a message that does not exist.
func (h GetReceipts) Handle(ctx context.Context, v Viewer, chatID, seq int64) ([]Receipt, error) {
	if err := checkMember(ctx, h.members, v, chatID); err != nil {
		return nil, err
	}
	if seq <= 0 {
		return nil, errs.NotFoundf("message %d not found in chat %d", seq, chatID)
	}
	rs, err := h.receipts.Receipts(ctx, chatID, seq)
	if err != nil {
		return nil, err
	}
	if rs == nil {
		rs = []Receipt{}
	}
	return rs, nil
}
