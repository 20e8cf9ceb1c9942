package textcheck

import (
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// FoldEmail is the form of an address compared for uniqueness and sign-in:
// width-folded (full-width ａｂ is ab), case-folded (ß is ss) and in Unicode
// NFC (josé typed as e + combining accent is josé), so addresses that look
// the same are one account. The domain then validates and lower-cases it.
func FoldEmail(email string) string {
	return norm.NFC.String(cases.Fold().String(width.Fold.String(strings.TrimSpace(email))))
}
