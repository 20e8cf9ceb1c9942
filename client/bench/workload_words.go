package bench

import (
	"strconv"
	"strings"

	"github.com/fechatter/fechatter/client"
)

// syllables build the vocabulary of message content: 16^3 pseudo-words,
// drawn with a skew so that some words are common and most are rare, as
// in chat text, which gives search queries of varied selectivity.
var syllables = [16]string{"ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "zu", "ha", "jo", "ba", "de", "fi", "gu"}

const vocabSize = 16 * 16 * 16

// word is the vocabulary word n (0 <= n < vocabSize).
func word(n int) string {
	return syllables[n>>8&15] + syllables[n>>4&15] + syllables[n&15]
}

// skewedWord picks a word from 64 random bits: the square of a uniform
// draw favours low numbers (the common words).
func skewedWord(h uint64) string {
	u := float64(h>>11) / (1 << 53)
	return word(int(u * u * vocabSize))
}

// mix is splitmix64's finaliser: a cheap, well-spread hash of i, so that
// a run's plan (who sends what where) is a pure function of the message
// index, needing no shared state.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// content is the text of message i: "#<i>", 6 to 15 words, and a token
// found in no other message (the index-lag probe searches for it).
func content(run string, i int) string {
	var b strings.Builder
	b.Grow(128)
	b.WriteByte('#')
	b.WriteString(strconv.Itoa(i))
	h := mix(uint64(i) + 1)
	n := 6 + int(h%10)
	for k := range n {
		h = mix(h + uint64(k))
		b.WriteByte(' ')
		b.WriteString(skewedWord(h))
	}
	b.WriteByte(' ')
	b.WriteString(token(run, i))
	return b.String()
}

// token is the word unique to message i of a run. Search matches words by
// prefix and with one typo, so tokens have a fixed width (none is a prefix
// of another) and end in a hash of i (two tokens differ in more than one
// place); the probe still checks the content of what it finds.
func token(run string, i int) string {
	idx := strconv.FormatInt(int64(i), 36)
	sum := strconv.FormatUint(mix(uint64(i))%(36*36*36-36*36)+36*36, 36) // 3 characters
	return "u" + run + "n" + strings.Repeat("0", max(6-len(idx), 0)) + idx + sum
}

// hasToken reports whether a search result holds message i itself.
func hasToken(hits []client.SearchHit, run string, i int) bool {
	tok := " " + token(run, i)
	for _, h := range hits {
		if strings.HasSuffix(h.Message.Content, tok) {
			return true
		}
	}
	return false
}

// messageIndex reads i back from the content of message i; false for
// content of another origin.
func messageIndex(content string) (int, bool) {
	rest, ok := strings.CutPrefix(content, "#")
	if !ok {
		return 0, false
	}
	if sp := strings.IndexByte(rest, ' '); sp >= 0 {
		rest = rest[:sp]
	}
	i, err := strconv.Atoi(rest)
	return i, err == nil && i >= 0
}
