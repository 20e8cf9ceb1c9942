// Package postgres implements the repository, outbox, transaction and
// read-model ports on PostgreSQL through bun. bun models live here only and
// are mapped explicitly to and from domain types; every method takes its
// connection from the context, so repositories called inside Transactor.InTx
// join its transaction.
package postgres
