// Package command holds the write side: one command per file, each with its
// input, its handler and a constructor that refuses missing dependencies.
// Handlers load aggregates through ports, apply the domain's rules, save, and
// record their events in the outbox in the same transaction.
package command
