package message_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
)

func TestValidateEmoji(t *testing.T) {
	tests := []struct {
		name  string
		emoji string
		ok    bool
	}{
		{"simple face", "🙂", true},
		{"thumbs up", "👍", true},
		{"thumbs up with skin tone", "👍🏽", true},
		{"heart with variation selector", "❤️", true},
		{"heart without selector", "❤", true},
		{"family ZWJ sequence", "👨‍👩‍👧‍👦", true},
		{"rainbow flag", "🏳️‍🌈", true},
		{"flag of France", "🇫🇷", true},
		{"keycap one", "1️⃣", true},
		{"keycap hash without selector", "#⃣", true},
		{"England tag sequence", "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", true},
		{"short code", ":thumbsup:", true},
		{"short code with digits and signs", ":+1:", true},
		{"short code 32 chars", ":" + strings.Repeat("a", 32) + ":", true},
		{"short code 33 chars", ":" + strings.Repeat("a", 33) + ":", false},
		{"short code upper case", ":ThumbsUp:", false},
		{"short code empty", "::", false},
		{"short code with space", ":thumbs up:", false},
		{"empty", "", false},
		{"letter", "a", false},
		{"digit alone", "1", false},
		{"two emoji", "🙂🙂", false},
		{"emoji and text", "🙂a", false},
		{"lone regional indicator", "🇫", false},
		{"three regional indicators", "🇫🇷🇫", false},
		{"dangling ZWJ", "👨‍", false},
		{"lone ZWJ", "\u200d", false},
		{"lone variation selector", "\ufe0f", false},
		{"CJK character", "中", false},
		{"invalid UTF-8", "\xff", false},
		{"over 32 bytes", strings.Repeat("👨‍", 8) + "👨", false},
		{"NUL", "\x00", false},
		{"html", "<b>", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := message.ValidateEmoji(tt.emoji)
			if tt.ok && err != nil {
				t.Errorf("ValidateEmoji(%q) = %v, want nil", tt.emoji, err)
			}
			if !tt.ok && !errs.Is(err, errs.Invalid) {
				t.Errorf("ValidateEmoji(%q) = %v, want invalid", tt.emoji, err)
			}
		})
	}
}

func TestReactionsAddRemove(t *testing.T) {
	type step struct {
		remove bool
		user   int64
		emoji  string
		change bool
		kind   errs.Kind // errs.Internal: no error
	}
	tests := []struct {
		name  string
		steps []step
		want  string // emoji:users;...
	}{
		{"first reaction", []step{{false, 1, "👍", true, errs.Internal}}, "👍:1"},
		{"same user twice is idempotent", []step{{false, 1, "👍", true, errs.Internal}, {false, 1, "👍", false, errs.Internal}}, "👍:1"},
		{"two users one emoji", []step{{false, 1, "👍", true, errs.Internal}, {false, 2, "👍", true, errs.Internal}}, "👍:1,2"},
		{"order of first use", []step{{false, 1, "👍", true, errs.Internal}, {false, 2, ":tada:", true, errs.Internal}, {false, 2, "👍", true, errs.Internal}}, "👍:1,2;:tada::2"},
		{"last user removes: emoji disappears", []step{{false, 1, "👍", true, errs.Internal}, {false, 1, "🎉", true, errs.Internal}, {true, 1, "👍", true, errs.Internal}}, "🎉:1"},
		{"remove absent is idempotent", []step{{true, 1, "👍", false, errs.Internal}}, ""},
		{"remove other user's keeps it", []step{{false, 1, "👍", true, errs.Internal}, {true, 2, "👍", false, errs.Internal}}, "👍:1"},
		{"readding after removal goes last", []step{{false, 1, "👍", true, errs.Internal}, {false, 1, "🎉", true, errs.Internal}, {true, 1, "👍", true, errs.Internal}, {false, 1, "👍", true, errs.Internal}}, "🎉:1;👍:1"},
		{"bad emoji", []step{{false, 1, "hello", false, errs.Invalid}}, ""},
		{"bad emoji on remove", []step{{true, 1, "x", false, errs.Invalid}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := message.NewReactions(nil)
			for i, s := range tt.steps {
				var changed bool
				var err error
				if s.remove {
					changed, err = r.Remove(s.user, s.emoji)
				} else {
					changed, err = r.Add(s.user, s.emoji)
				}
				if s.kind == errs.Internal && err != nil || s.kind != errs.Internal && !errs.Is(err, s.kind) {
					t.Fatalf("step %d: err = %v, want kind %v", i, err, s.kind)
				}
				if changed != s.change {
					t.Fatalf("step %d: changed = %v, want %v", i, changed, s.change)
				}
			}
			if got := render(r); got != tt.want {
				t.Errorf("reactions = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReactionsDistinctLimit(t *testing.T) {
	r := message.NewReactions(nil)
	for i := range message.MaxDistinctReactions {
		if _, err := r.Add(1, fmt.Sprintf(":e%d:", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Add(2, ":one_more:"); !errs.Is(err, errs.Conflict) {
		t.Fatalf("21st emoji: err = %v, want conflict", err)
	}
	if ok, err := r.Add(2, ":e0:"); err != nil || !ok {
		t.Fatalf("an existing emoji is still taken at the limit: %v %v", ok, err)
	}
	if r.Count(":e0:") != 2 {
		t.Errorf("count = %d, want 2", r.Count(":e0:"))
	}
}

func TestDeletedMessageTakesNoReactions(t *testing.T) {
	m, err := message.New(chatID, sender, "hi", "", 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CanReact(); err != nil {
		t.Fatalf("live message: %v", err)
	}
	if err := m.Delete(sender, false, t1); err != nil {
		t.Fatal(err)
	}
	if err := m.CanReact(); !errs.Is(err, errs.Conflict) {
		t.Fatalf("deleted message: err = %v, want conflict", err)
	}
}

func render(r *message.Reactions) string {
	var parts []string
	for _, x := range r.List() {
		var ids []string
		for _, id := range x.UserIDs {
			ids = append(ids, fmt.Sprint(id))
		}
		parts = append(parts, x.Emoji+":"+strings.Join(ids, ","))
	}
	return strings.Join(parts, ";")
}
