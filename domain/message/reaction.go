package message

import (
	"slices"
	"unicode/utf8"

	"github.com/fechatter/fechatter/domain/errs"
)

// Reaction limits.
const (
	MaxEmojiBytes        = 32
	MaxShortCodeLen      = 32
	MaxDistinctReactions = 20
)

// ValidateEmoji accepts one Unicode emoji (a single grapheme cluster of at
// most 32 bytes: a pictograph with its variation selector, skin tone,
// keycap, tag sequence or ZWJ sequence, or a flag of two regional
// indicators) or a short code :[a-z0-9_+-]{1,32}:.
func ValidateEmoji(s string) error {
	if isShortCode(s) || isEmoji(s) {
		return nil
	}
	return errs.Invalidf("emoji must be one Unicode emoji or a short code like :thumbsup:")
}

func isShortCode(s string) bool {
	if len(s) < 3 || s[0] != ':' || s[len(s)-1] != ':' || len(s)-2 > MaxShortCodeLen {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

const (
	zwj            = 0x200D
	vs15, vs16     = 0xFE0E, 0xFE0F
	keycapMark     = 0x20E3
	tagCancel      = 0xE007F
	regionalFirst  = 0x1F1E6
	regionalLast   = 0x1F1FF
	skinToneFirst  = 0x1F3FB
	skinToneLast   = 0x1F3FF
	tagFirst       = 0xE0020
	tagLast        = 0xE007E
	pictographHigh = 0x1F000
)

// isEmoji reports whether s is exactly one emoji grapheme cluster.
func isEmoji(s string) bool {
	if s == "" || len(s) > MaxEmojiBytes || !utf8.ValidString(s) {
		return false
	}
	rs := []rune(s)
	// A flag: exactly two regional indicators.
	if isRegional(rs[0]) {
		return len(rs) == 2 && isRegional(rs[1])
	}
	// A keycap: [0-9#*] FE0F? 20E3.
	if rs[0] == '#' || rs[0] == '*' || rs[0] >= '0' && rs[0] <= '9' {
		return slices.Equal(rs[1:], []rune{vs16, keycapMark}) || slices.Equal(rs[1:], []rune{keycapMark})
	}
	i := 0
	for {
		// One element: a pictograph, then modifiers.
		if i >= len(rs) || !isPictograph(rs[i]) {
			return false
		}
		i++
		for i < len(rs) && (rs[i] == vs15 || rs[i] == vs16 || rs[i] >= skinToneFirst && rs[i] <= skinToneLast) {
			i++
		}
		// A tag sequence (subdivision flags) ends the cluster.
		if i < len(rs) && rs[i] >= tagFirst && rs[i] <= tagLast {
			for i < len(rs) && rs[i] >= tagFirst && rs[i] <= tagLast {
				i++
			}
			return i == len(rs)-1 && rs[i] == tagCancel
		}
		if i == len(rs) {
			return true
		}
		if rs[i] != zwj {
			return false
		}
		i++ // a ZWJ joins the next pictograph into the same cluster
	}
}

func isRegional(r rune) bool { return r >= regionalFirst && r <= regionalLast }

// isPictograph approximates Unicode's Extended_Pictographic property: the
// symbol blocks that hold emoji.
func isPictograph(r rune) bool {
	switch {
	case r == 0x00A9, r == 0x00AE, r == 0x203C, r == 0x2049, r == 0x2122, r == 0x2139,
		r >= 0x2194 && r <= 0x2199, r == 0x21A9, r == 0x21AA, r == 0x231A, r == 0x231B,
		r == 0x2328, r == 0x23CF, r >= 0x23E9 && r <= 0x23F3, r >= 0x23F8 && r <= 0x23FA,
		r == 0x24C2, r == 0x25AA, r == 0x25AB, r == 0x25B6, r == 0x25C0, r >= 0x25FB && r <= 0x25FE,
		r >= 0x2600 && r <= 0x27BF, r == 0x2934, r == 0x2935, r >= 0x2B05 && r <= 0x2B07,
		r == 0x2B1B, r == 0x2B1C, r == 0x2B50, r == 0x2B55, r == 0x3030, r == 0x303D,
		r == 0x3297, r == 0x3299:
		return true
	case r >= pictographHigh && r <= 0x1FAFF:
		return !isRegional(r) && !(r >= skinToneFirst && r <= skinToneLast)
	}
	return false
}

// Reaction is one emoji on a message with the users who chose it, in the
// order they did.
type Reaction struct {
	Emoji   string
	UserIDs []int64
}

// Reactions is a message's reaction set: emoji in order of first use, each
// with its users. An emoji whose last user removes it disappears.
type Reactions struct {
	list []Reaction
}

// NewReactions rebuilds a set from storage (already in order).
func NewReactions(list []Reaction) *Reactions {
	return &Reactions{list: list}
}

// List returns the reactions in order of first use.
func (r *Reactions) List() []Reaction { return r.list }

// Count returns how many users chose emoji.
func (r *Reactions) Count(emoji string) int {
	if i := r.index(emoji); i >= 0 {
		return len(r.list[i].UserIDs)
	}
	return 0
}

func (r *Reactions) index(emoji string) int {
	return slices.IndexFunc(r.list, func(x Reaction) bool { return x.Emoji == emoji })
}

// Add records user's emoji. Adding it again changes nothing (added is
// false). A 21st distinct emoji is a conflict.
func (r *Reactions) Add(userID int64, emoji string) (added bool, err error) {
	if err := ValidateEmoji(emoji); err != nil {
		return false, err
	}
	i := r.index(emoji)
	if i < 0 {
		if len(r.list) >= MaxDistinctReactions {
			return false, errs.Conflictf("a message takes at most %d distinct emoji", MaxDistinctReactions)
		}
		r.list = append(r.list, Reaction{Emoji: emoji, UserIDs: []int64{userID}})
		return true, nil
	}
	if slices.Contains(r.list[i].UserIDs, userID) {
		return false, nil
	}
	r.list[i].UserIDs = append(r.list[i].UserIDs, userID)
	return true, nil
}

// Remove drops user's emoji; removing one that is not there changes
// nothing (removed is false).
func (r *Reactions) Remove(userID int64, emoji string) (removed bool, err error) {
	if err := ValidateEmoji(emoji); err != nil {
		return false, err
	}
	i := r.index(emoji)
	if i < 0 {
		return false, nil
	}
	j := slices.Index(r.list[i].UserIDs, userID)
	if j < 0 {
		return false, nil
	}
	r.list[i].UserIDs = slices.Delete(r.list[i].UserIDs, j, j+1)
	if len(r.list[i].UserIDs) == 0 {
		r.list = slices.Delete(r.list, i, i+1)
	}
	return true, nil
}

// CanReact tells whether the message takes reactions: deleted messages
// take none.
func (m *Message) CanReact() error {
	if m.Deleted() {
		return errs.Conflictf("message %d is deleted and takes no reactions", m.seq)
	}
	return nil
}
