package ports

import "context"

// Transactor runs fn in one transaction. Repository calls made with the ctx
// given to fn join that transaction; fn's error rolls everything back.
// Calls nest: an inner InTx joins the outer transaction.
type Transactor interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}
