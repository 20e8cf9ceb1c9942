package postgres

import (
	"context"
	"sync"

	"github.com/uptrace/bun"

	"github.com/fechatter/fechatter/ports"
)

var _ ports.Transactor = (*Transactor)(nil)

// Transactor runs functions in a database transaction. The transaction
// travels in the context, so every repository of this package called with
// that context joins it.
type Transactor struct {
	db *bun.DB
}

// NewTransactor returns a Transactor on db.
func NewTransactor(db *bun.DB) *Transactor {
	if db == nil {
		panic("postgres: NewTransactor: nil db")
	}
	return &Transactor{db: db}
}

// InTx runs fn in a transaction, committed if fn returns nil and rolled back
// otherwise. Called inside another InTx it joins the outer transaction.
// Functions registered with afterCommit run once the outermost commit succeeds.
func (t *Transactor) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return inTx(ctx, t.db, fn)
}

type txKey struct{}

// txState is the transaction in a context and what waits for its commit.
type txState struct {
	db *bun.DB
	tx bun.Tx

	mu          sync.Mutex
	afterCommit []func()
}

func txFrom(ctx context.Context, db *bun.DB) *txState {
	s, _ := ctx.Value(txKey{}).(*txState)
	if s == nil || s.db != db {
		return nil
	}
	return s
}

func inTx(ctx context.Context, db *bun.DB, fn func(ctx context.Context) error) error {
	if txFrom(ctx, db) != nil {
		return fn(ctx)
	}
	state := &txState{db: db}
	var fnErr error
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		state.tx = tx
		fnErr = fn(context.WithValue(ctx, txKey{}, state))
		return fnErr
	})
	if fnErr != nil {
		return fnErr // fn's own error, as fn returned it
	}
	if err != nil {
		return dbError(err, "transaction") // BEGIN or COMMIT failed
	}
	state.mu.Lock()
	callbacks := state.afterCommit
	state.afterCommit = nil
	state.mu.Unlock()
	for _, f := range callbacks {
		f()
	}
	return nil
}

// afterCommit runs f once the transaction of ctx commits, or right away when
// ctx carries no transaction. A rolled-back transaction never runs it.
func afterCommit(ctx context.Context, db *bun.DB, f func()) {
	s := txFrom(ctx, db)
	if s == nil {
		f()
		return
	}
	s.mu.Lock()
	s.afterCommit = append(s.afterCommit, f)
	s.mu.Unlock()
}

// conn returns the transaction of ctx, or db when there is none.
func conn(ctx context.Context, db *bun.DB) bun.IDB {
	if s := txFrom(ctx, db); s != nil {
		return s.tx
	}
	return db
}

// inTxNow reports whether ctx carries a transaction on db.
func inTxNow(ctx context.Context, db *bun.DB) bool { return txFrom(ctx, db) != nil }
