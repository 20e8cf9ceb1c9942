// Package textcheck is the one input-hygiene rule that every REST body, query
// string and WebSocket frame goes through: strings must be text that
// Postgres and clients can hold. A NUL character (U+0000) cannot be stored in
// a Postgres text column, and an unpaired UTF-16 surrogate escape (\ud800)
// would be silently replaced by U+FFFD by encoding/json; both are refused as
// Invalid naming the field, before any handler sees the input.
package textcheck

import (
	"unicode/utf8"

	"github.com/fechatter/fechatter/domain/errs"
)

// String checks one decoded string value (a query parameter, a path
// parameter): valid UTF-8 (which excludes encoded surrogates) and no NUL.
func String(field, s string) error {
	if !utf8.ValidString(s) {
		return errs.Invalidf("field %q is not valid UTF-8", field)
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return errs.Invalidf("field %q contains a NUL character (U+0000), which is not allowed", field)
		}
	}
	return nil
}

// JSON checks every string literal (keys and values) of a syntactically
// valid JSON document for NUL characters and unpaired surrogate escapes. The
// error names the object key the bad string belongs to ("" at top level).
// Input that is not valid JSON is scanned without panicking; callers run it
// after json.Unmarshal accepted the document.
func JSON(doc []byte) error {
	field := ""
	for i := 0; i < len(doc); i++ {
		if doc[i] != '"' {
			continue
		}
		end, bad := scanString(doc, i+1)
		isKey := false
		for j := end + 1; j < len(doc); j++ {
			c := doc[j]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				continue
			}
			isKey = c == ':'
			break
		}
		if isKey {
			field = string(doc[i+1 : min(end, len(doc))])
			if len(field) > 64 {
				field = field[:64] + "..."
			}
		}
		switch bad {
		case badNUL:
			if isKey {
				return errs.Invalidf("a field name contains a NUL character (U+0000), which is not allowed")
			}
			return errs.Invalidf("field %q contains a NUL character (U+0000), which is not allowed", field)
		case badSurrogate:
			if isKey {
				return errs.Invalidf("a field name contains an unpaired UTF-16 surrogate, which is not allowed")
			}
			return errs.Invalidf("field %q contains an unpaired UTF-16 surrogate, which is not allowed", field)
		}
		i = end
	}
	return nil
}

const (
	badNone = iota
	badNUL
	badSurrogate
)

// scanString reads a string literal whose body starts at i and returns the
// index of its closing quote (len(doc) when unterminated) and what is wrong
// with it.
func scanString(doc []byte, i int) (end int, bad int) {
	bad = badNone
	pendingHigh := false // the previous escape was a high surrogate
	for i < len(doc) {
		c := doc[i]
		switch {
		case c == '"':
			if pendingHigh && bad == badNone {
				bad = badSurrogate
			}
			return i, bad
		case c == 0:
			if bad == badNone {
				bad = badNUL
			}
			i++
		case c == '\\' && i+1 < len(doc) && doc[i+1] == 'u' && i+5 < len(doc):
			r, ok := hex4(doc[i+2 : i+6])
			if !ok {
				i += 2
				continue
			}
			switch {
			case r == 0:
				if bad == badNone {
					bad = badNUL
				}
			case r >= 0xD800 && r <= 0xDBFF:
				if pendingHigh && bad == badNone {
					bad = badSurrogate
				}
				pendingHigh = true
				i += 6
				continue
			case r >= 0xDC00 && r <= 0xDFFF:
				if !pendingHigh && bad == badNone {
					bad = badSurrogate
				}
				pendingHigh = false
				i += 6
				continue
			}
			if pendingHigh && bad == badNone {
				bad = badSurrogate
			}
			pendingHigh = false
			i += 6
		case c == '\\':
			if pendingHigh && bad == badNone {
				bad = badSurrogate
			}
			pendingHigh = false
			i += 2
		default:
			if pendingHigh && bad == badNone {
				bad = badSurrogate
			}
			pendingHigh = false
			i++
		}
	}
	return len(doc), bad
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}
