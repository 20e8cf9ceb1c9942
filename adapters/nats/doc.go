// Package nats is the event bus on NATS: an embedded nats-server for the local
// profile, the client connection, the JetStream stream that holds every domain
// event, the publisher the outbox relay uses, and plain subscriptions for live
// fan-out. It works with NATS Server 2.9 and later.
package nats
