// Package event holds the application's reactions to domain events: the
// outbox relay that moves committed events to the bus, and (later) fan-out
// and search indexing.
package event
