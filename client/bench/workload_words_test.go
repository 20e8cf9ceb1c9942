package bench

import (
	"strings"
	"testing"
)

func TestContentCarriesItsIndexAndAUniqueToken(t *testing.T) {
	seen := map[string]bool{}
	for _, i := range []int{0, 1, 9, 10, 35, 36, 12345, 999_999} {
		c := content("abc123", i)
		if got, ok := messageIndex(c); !ok || got != i {
			t.Fatalf("messageIndex(%q) = %d, %v; want %d", c, got, ok, i)
		}
		if !strings.HasSuffix(c, " "+token("abc123", i)) || seen[token("abc123", i)] {
			t.Fatalf("content %q lacks its unique token", c)
		}
		seen[token("abc123", i)] = true
		if n := len(strings.Fields(c)); n < 8 || n > 17 {
			t.Fatalf("content %q has %d fields", c, n)
		}
	}
	// Tokens: one width, no two within one edit of each other in a sample.
	toks := make([]string, 2000)
	for i := range toks {
		toks[i] = token("r1", i)
		if len(toks[i]) != len(toks[0]) {
			t.Fatalf("token %d %q is not %d long", i, toks[i], len(toks[0]))
		}
	}
	for i := 1; i < len(toks); i++ {
		if diff := hamming(toks[i-1], toks[i]); diff < 2 {
			t.Fatalf("tokens %q and %q differ in %d place", toks[i-1], toks[i], diff)
		}
	}
	for _, c := range []string{"", "hello", "#", "#x y", "# 1", "#-1 a"} {
		if _, ok := messageIndex(c); ok {
			t.Fatalf("messageIndex(%q) accepted", c)
		}
	}
}

func TestSkewedWordsFavourTheCommonOnes(t *testing.T) {
	counts := map[string]int{}
	for i := range 100_000 {
		counts[skewedWord(mix(uint64(i)))]++
	}
	if counts[word(0)] < 10*counts[word(vocabSize-1)]+10 {
		t.Fatalf("word 0 drawn %d times, the last word %d: no skew", counts[word(0)], counts[word(vocabSize-1)])
	}
	if len(counts) < vocabSize/2 {
		t.Fatalf("only %d distinct words drawn", len(counts))
	}
}

func hamming(a, b string) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}
