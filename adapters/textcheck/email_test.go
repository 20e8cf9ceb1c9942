package textcheck_test

import (
	"testing"

	"github.com/fechatter/fechatter/adapters/textcheck"
)

func TestFoldEmailJoinsLookAlikes(t *testing.T) {
	same := [][2]string{
		{"jos\u00e9@example.com", "jose\u0301@example.com"},                // NFC and NFD
		{"\uff41\uff42@example.com", "ab@example.com"},                     // full-width
		{"AB@Example.COM", "ab@example.com"},                               // case
		{"stra\u00dfe@example.com", "strasse@example.com"},                 // case folding, not lower-casing
		{"\uff2a\uff4f\uff53\u00e9@example.com", "jose\u0301@example.com"}, // all at once
	}
	for _, p := range same {
		if a, b := textcheck.FoldEmail(p[0]), textcheck.FoldEmail(p[1]); a != b {
			t.Errorf("%q -> %q, %q -> %q: want one address", p[0], a, p[1], b)
		}
	}
	if textcheck.FoldEmail("ab@example.com") == textcheck.FoldEmail("ac@example.com") {
		t.Error("different addresses folded together")
	}
}
