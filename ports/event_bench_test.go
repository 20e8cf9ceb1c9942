package ports_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/fechatter/fechatter/ports"
)

// messageData is the Data of a message.created event as the send command
// records it (API.md's Message).
var messageData = json.RawMessage(`{"id":123456,"chat_id":4242,"seq":981,"sender_id":77,` +
	`"content":"the quick brown fox jumps over the lazy dog, twice: the quick brown fox jumps over the lazy dog",` +
	`"reply_to_id":null,"idempotency_key":"web-5f1c2a9e-81b4-4d7e-9c55-2f0e6b8d1a73",` +
	`"created_at":"2026-11-25T19:33:47.123456Z","edited_at":null,"deleted_at":null}`)

func benchEvent() ports.Event {
	return ports.Event{ID: "0193f2c4-5b6e-7a8b-9c0d-1e2f3a4b5c6d", Type: ports.EventMessageCreated, Version: ports.EventVersion,
		OccurredAt: time.Date(2026, 11, 25, 19, 33, 47, 123456000, time.UTC), WorkspaceID: 9, ChatID: 4242, Data: messageData}
}

// BenchmarkEventMarshal is the envelope as the outbox relay publishes it
// to NATS, once per event.
func BenchmarkEventMarshal(b *testing.B) {
	e := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventUnmarshal is the envelope as each subscriber (the
// WebSocket fan-out, the indexer) decodes it, once per event per instance.
func BenchmarkEventUnmarshal(b *testing.B) {
	raw, err := json.Marshal(benchEvent())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var e ports.Event
		if err := json.Unmarshal(raw, &e); err != nil {
			b.Fatal(err)
		}
	}
}
