package bleve

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/ports"
)

// benchSyllables make the words of the benchmark corpus as the search
// workload of `fechatter bench` makes them (client/bench): 16^3 words of
// three syllables, drawn with a skew so that some are common.
var benchSyllables = [16]string{"ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "zu", "ha", "jo", "ba", "de", "fi", "gu"}

func benchWord(h uint64) string {
	u := float64(h>>11) / (1 << 53)
	n := int(u * u * 4096)
	return benchSyllables[n>>8&15] + benchSyllables[n>>4&15] + benchSyllables[n&15]
}

func benchMix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// benchContent is message i: 6 to 15 words and a word of its own, as the
// bench writes them.
func benchContent(i int) string {
	var b strings.Builder
	b.WriteString("#" + strconv.Itoa(i))
	h := benchMix(uint64(i) + 1)
	for k := range 6 + int(h%10) {
		h = benchMix(h + uint64(k))
		b.WriteString(" " + benchWord(h))
	}
	b.WriteString(" ubenchn" + strconv.FormatInt(int64(i), 36))
	return b.String()
}

// benchIndex opens the index in $FECHATTER_BLEVE_BENCH_DIR (say, one a
// spawned server wrote: FECHATTER_SEARCH_DIR) and lists its chats. Without
// one there (or without the variable: in a temporary directory) it builds
// one of $FECHATTER_BLEVE_BENCH_DOCS messages (20,000) in 10 chats, in
// batches of 500 as the indexer writes them while it catches up.
func benchIndex(b *testing.B) (*Index, []int64) {
	b.Helper()
	dir := os.Getenv("FECHATTER_BLEVE_BENCH_DIR")
	if _, err := os.Stat(dir); dir != "" && err == nil {
		idx, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = idx.Close() })
		dict, err := idx.idx.FieldDict(fieldChatID)
		if err != nil {
			b.Fatal(err)
		}
		defer dict.Close()
		var chats []int64
		for e, err := dict.Next(); e != nil && err == nil; e, err = dict.Next() {
			id, _ := strconv.ParseInt(e.Term, 10, 64)
			chats = append(chats, id)
		}
		return idx, chats
	}
	n := 20000
	if s := os.Getenv("FECHATTER_BLEVE_BENCH_DOCS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	if dir == "" {
		dir = b.TempDir()
	}
	idx, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = idx.Close() })
	chats := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	docs := make([]ports.SearchDocument, 0, 500)
	for i := range n {
		docs = append(docs, ports.SearchDocument{ID: int64(i + 1), ChatID: chats[i%len(chats)], WorkspaceID: 1, SenderID: 1,
			Seq: int64(i/len(chats) + 1), Content: benchContent(i), CreatedAt: at.Add(time.Duration(i/5000) * time.Second)})
		if len(docs) == cap(docs) || i == n-1 {
			if err := idx.Upsert(context.Background(), docs); err != nil {
				b.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	return idx, chats
}

// BenchmarkSearchWords searches one word of the corpus per query, in one
// chat, as the bench's search workload does (the common words often).
func BenchmarkSearchWords(b *testing.B) {
	idx, chats := benchIndex(b)
	ctx := context.Background()
	var hits int
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h := benchMix(uint64(i) ^ 0x5ea7c4)
		q := ports.SearchQuery{Text: benchWord(benchMix(h)), ChatIDs: []int64{chats[h%uint64(len(chats))]}, Limit: 20}
		res, err := idx.Search(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		hits += res.EstimatedTotal
	}
	b.ReportMetric(float64(hits)/float64(b.N), "hits/op")
}
