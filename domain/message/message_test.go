package message_test

import (
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/message"
)

var (
	t0 = time.Date(2026, 11, 25, 19, 33, 47, 123456000, time.UTC)
	t1 = t0.Add(time.Minute)
	t2 = t0.Add(time.Hour)
)

const (
	chatID    int64 = 42
	sender    int64 = 7
	otherUser int64 = 8
)

func TestValidateContent(t *testing.T) {
	tests := []struct {
		name    string
		content string
		ok      bool
	}{
		{"one character", "a", true},
		{"ordinary text", "hello, world", true},
		{"surrounding space is kept valid", "  hi  \n", true},
		{"single emoji", "🙂", true},
		{"empty", "", false},
		{"ascii spaces", "   ", false},
		{"tabs and newlines", "\t\n\r\v\f", false},
		{"no-break space", "\u00a0", false},
		{"em and ideographic spaces", "\u2003\u3000", false},
		{"line and paragraph separators", "\u2028\u2029\u0085", false},
		{"mixed unicode white space", " \u00a0\t\u205f\u3000\n", false},
		{"4000 ASCII", strings.Repeat("a", 4000), true},
		{"4001 ASCII", strings.Repeat("a", 4001), false},
		{"4000 two-byte characters", strings.Repeat("é", 4000), true},
		{"4001 two-byte characters", strings.Repeat("é", 4001), false},
		{"4000 three-byte characters", strings.Repeat("中", 4000), true},
		{"4000 four-byte emoji (16000 bytes)", strings.Repeat("🙂", 4000), true},
		{"4001 four-byte emoji", strings.Repeat("🙂", 4001), false},
		{"4000 characters counting spaces", "x" + strings.Repeat(" ", 3999), true},
		{"invalid byte", "hi\xff", false},
		{"truncated sequence", "\xe4\xb8", false},
		{"surrogate half", "\xed\xa0\x80", false},
		{"overlong encoding", "\xc0\xaf", false},
		{"invalid byte only", "\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := message.ValidateContent(tt.content)
			if tt.ok && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
			if !tt.ok && !errs.Is(err, errs.Invalid) {
				t.Errorf("err = %v, want invalid", err)
			}
		})
	}
}

func TestValidateIdempotencyKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"none", "", true},
		{"one character", "k", true},
		{"uuid", "3f1c9a52-8d2b-4e1a-9a7e-0b6b2f1e7c44", true},
		{"64 characters", strings.Repeat("k", 64), true},
		{"65 characters", strings.Repeat("k", 65), false},
		{"64 multi-byte characters", strings.Repeat("ключ", 16), true},
		{"65 multi-byte characters", strings.Repeat("ключ", 16) + "й", false},
		{"invalid UTF-8", "key\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := message.ValidateIdempotencyKey(tt.key)
			if tt.ok && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
			if !tt.ok && !errs.Is(err, errs.Invalid) {
				t.Errorf("err = %v, want invalid", err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name          string
		chat, sender  int64
		content, key  string
		replyTo       int64
		wantErr       bool
		wantReplyToID int64
	}{
		{name: "plain", chat: chatID, sender: sender, content: "hi"},
		{name: "with key and reply", chat: chatID, sender: sender, content: "re: hi", key: "abc", replyTo: 3, wantReplyToID: 3},
		{name: "content kept as sent", chat: chatID, sender: sender, content: "  spaced  "},
		{name: "no chat", chat: 0, sender: sender, content: "hi", wantErr: true},
		{name: "negative chat", chat: -1, sender: sender, content: "hi", wantErr: true},
		{name: "no sender", chat: chatID, sender: 0, content: "hi", wantErr: true},
		{name: "blank content", chat: chatID, sender: sender, content: " \u3000 ", wantErr: true},
		{name: "content too long", chat: chatID, sender: sender, content: strings.Repeat("é", 4001), wantErr: true},
		{name: "key too long", chat: chatID, sender: sender, content: "hi", key: strings.Repeat("k", 65), wantErr: true},
		{name: "negative reply", chat: chatID, sender: sender, content: "hi", replyTo: -1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := message.New(tt.chat, tt.sender, tt.content, tt.key, tt.replyTo, t0)
			if tt.wantErr {
				if !errs.Is(err, errs.Invalid) || m != nil {
					t.Fatalf("New = %v, %v; want nil, invalid", m, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if m.ChatID() != tt.chat || m.SenderID() != tt.sender || m.Content() != tt.content ||
				m.IdempotencyKey() != tt.key || m.ReplyToID() != tt.wantReplyToID {
				t.Errorf("got chat %d sender %d content %q key %q reply %d", m.ChatID(), m.SenderID(), m.Content(), m.IdempotencyKey(), m.ReplyToID())
			}
			if m.ID() != 0 || m.Seq() != 0 {
				t.Errorf("id, seq = %d, %d; want 0, 0 before storage", m.ID(), m.Seq())
			}
			if !m.CreatedAt().Equal(t0) || !m.EditedAt().IsZero() || !m.DeletedAt().IsZero() || m.Deleted() {
				t.Errorf("times: created %v edited %v deleted %v", m.CreatedAt(), m.EditedAt(), m.DeletedAt())
			}
			m.Assign(100, 5)
			if m.ID() != 100 || m.Seq() != 5 {
				t.Errorf("after Assign id, seq = %d, %d; want 100, 5", m.ID(), m.Seq())
			}
		})
	}
}

func TestSameRequest(t *testing.T) {
	m, err := message.New(chatID, sender, "hello", "k1", 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		chat    int64
		content string
		want    bool
	}{
		{"same chat and content", chatID, "hello", true},
		{"other chat", chatID + 1, "hello", false},
		{"other content", chatID, "hello!", false},
		{"content differs in space", chatID, "hello ", false},
	}
	for _, tt := range tests {
		if got := m.SameRequest(tt.chat, tt.content); got != tt.want {
			t.Errorf("%s: SameRequest = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// stored returns a message as storage would give it back, optionally deleted.
func stored(deleted bool) *message.Message {
	var del time.Time
	content := "original"
	if deleted {
		del, content = t0.Add(30*time.Second), ""
	}
	return message.UnmarshalFromDatabase(100, chatID, 5, sender, content, 2, "key", t0, time.Time{}, del)
}

func TestEdit(t *testing.T) {
	tests := []struct {
		name    string
		deleted bool
		by      int64
		content string
		wantErr errs.Kind
	}{
		{name: "sender edits", by: sender, content: "fixed"},
		{name: "sender edits to 4000 characters", by: sender, content: strings.Repeat("é", 4000)},
		{name: "someone else may not", by: otherUser, content: "hijack", wantErr: errs.Forbidden},
		{name: "someone else and a deleted message", deleted: true, by: otherUser, content: "x", wantErr: errs.Forbidden},
		{name: "deleted message", deleted: true, by: sender, content: "back", wantErr: errs.Conflict},
		{name: "blank content", by: sender, content: "\u00a0 ", wantErr: errs.Invalid},
		{name: "empty content", by: sender, content: "", wantErr: errs.Invalid},
		{name: "too long", by: sender, content: strings.Repeat("🙂", 4001), wantErr: errs.Invalid},
		{name: "invalid UTF-8", by: sender, content: "\xff", wantErr: errs.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := stored(tt.deleted)
			beforeContent := m.Content()
			err := m.Edit(tt.by, tt.content, t2)
			if tt.wantErr != errs.Internal {
				if !errs.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want kind %v", err, tt.wantErr)
				}
				if m.Content() != beforeContent || !m.EditedAt().IsZero() {
					t.Errorf("refused edit changed the message: %q, edited %v", m.Content(), m.EditedAt())
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if m.Content() != tt.content {
				t.Errorf("content = %q, want %q", m.Content(), tt.content)
			}
			if !m.EditedAt().Equal(t2) {
				t.Errorf("EditedAt = %v, want %v", m.EditedAt(), t2)
			}
			if m.Seq() != 5 || m.ID() != 100 || !m.CreatedAt().Equal(t0) || m.Deleted() {
				t.Errorf("edit changed identity: id %d seq %d created %v deleted %v", m.ID(), m.Seq(), m.CreatedAt(), m.Deleted())
			}
		})
	}
}

func TestEditTwiceMovesEditedAt(t *testing.T) {
	m := stored(false)
	if err := m.Edit(sender, "one", t1); err != nil {
		t.Fatal(err)
	}
	if err := m.Edit(sender, "two", t2); err != nil {
		t.Fatal(err)
	}
	if m.Content() != "two" || !m.EditedAt().Equal(t2) {
		t.Errorf("content %q edited %v; want \"two\" at %v", m.Content(), m.EditedAt(), t2)
	}
}

func TestDelete(t *testing.T) {
	tests := []struct {
		name        string
		by          int64
		canModerate bool
		wantErr     bool
	}{
		{name: "sender deletes", by: sender},
		{name: "sender who is also a moderator", by: sender, canModerate: true},
		{name: "moderator deletes another's message", by: otherUser, canModerate: true},
		{name: "someone else may not", by: otherUser, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := stored(false)
			err := m.Delete(tt.by, tt.canModerate, t1)
			if tt.wantErr {
				if !errs.Is(err, errs.Forbidden) {
					t.Fatalf("err = %v, want forbidden", err)
				}
				if m.Deleted() || m.Content() != "original" {
					t.Errorf("refused delete changed the message: deleted %v content %q", m.Deleted(), m.Content())
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !m.Deleted() || !m.DeletedAt().Equal(t1) {
				t.Errorf("Deleted %v at %v, want true at %v", m.Deleted(), m.DeletedAt(), t1)
			}
			if m.Content() != "" {
				t.Errorf("content = %q, want empty tombstone", m.Content())
			}
			if m.Seq() != 5 || m.ID() != 100 || m.ChatID() != chatID || m.SenderID() != sender {
				t.Errorf("tombstone lost identity: id %d seq %d chat %d sender %d", m.ID(), m.Seq(), m.ChatID(), m.SenderID())
			}
			// Deleting again is fine and keeps the first deletion time.
			if err := m.Delete(tt.by, tt.canModerate, t2); err != nil {
				t.Fatalf("second delete: %v", err)
			}
			if !m.DeletedAt().Equal(t1) || m.Seq() != 5 {
				t.Errorf("second delete moved DeletedAt to %v or seq to %d", m.DeletedAt(), m.Seq())
			}
			// A tombstone cannot be edited back to life.
			if err := m.Edit(sender, "back", t2); !errs.Is(err, errs.Conflict) {
				t.Errorf("edit after delete: err = %v, want conflict", err)
			}
		})
	}
}

func TestDeleteAlreadyDeletedByStranger(t *testing.T) {
	m := stored(true)
	if err := m.Delete(otherUser, false, t2); !errs.Is(err, errs.Forbidden) {
		t.Errorf("err = %v, want forbidden", err)
	}
	if err := m.Delete(otherUser, true, t2); err != nil {
		t.Errorf("moderator on a tombstone: %v", err)
	}
	if !m.DeletedAt().Equal(t0.Add(30 * time.Second)) {
		t.Errorf("DeletedAt moved to %v", m.DeletedAt())
	}
}
