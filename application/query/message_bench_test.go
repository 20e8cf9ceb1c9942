package query_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/message"
)

// BenchmarkMessageJSON maps a message aggregate to API.md's Message and
// encodes it: the data of every message.created event, once per send.
func BenchmarkMessageJSON(b *testing.B) {
	m, err := message.New(4242, 77, "the quick brown fox jumps over the lazy dog, twice: the quick brown fox jumps over the lazy dog",
		"web-5f1c2a9e-81b4-4d7e-9c55-2f0e6b8d1a73", 0, time.Date(2026, 11, 25, 19, 33, 47, 123456000, time.UTC))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(query.MessageOf(m)); err != nil {
			b.Fatal(err)
		}
	}
}
