// Package message holds the Message aggregate: content rules, edits by the
// sender, and deletion as a tombstone that keeps its seq.
package message

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fechatter/fechatter/domain/errs"
)

// Content and key limits.
const (
	MaxContentLen        = 4000
	MaxIdempotencyKeyLen = 64
)

// Message is one message of a chat.
type Message struct {
	id             int64
	chatID         int64
	seq            int64
	senderID       int64
	content        string
	replyToID      int64
	idempotencyKey string
	createdAt      time.Time
	editedAt       time.Time
	deletedAt      time.Time
	threadRootID   int64 // mention.go
	mentions       Mentions
	attachmentIDs  []int64
	thread         *ThreadState
}

// ValidateContent checks the content rules: 1..4000 characters of valid UTF-8,
// not only white space.
func ValidateContent(content string) error {
	if !utf8.ValidString(content) {
		return errs.Invalidf("content must be valid UTF-8")
	}
	if strings.TrimFunc(content, unicode.IsSpace) == "" {
		return errs.Invalidf("content must not be empty or only white space")
	}
	if n := utf8.RuneCountInString(content); n > MaxContentLen {
		return errs.Invalidf("content has %d characters; at most %d are allowed", n, MaxContentLen)
	}
	return nil
}

// ValidateIdempotencyKey checks a client's idempotency key; "" means none.
func ValidateIdempotencyKey(key string) error {
	if key == "" {
		return nil
	}
	if !utf8.ValidString(key) || utf8.RuneCountInString(key) > MaxIdempotencyKeyLen {
		return errs.Invalidf("idempotency_key must be 1..%d characters", MaxIdempotencyKeyLen)
	}
	return nil
}

// New builds a message about to be sent; its id and seq come from storage.
func New(chatID, senderID int64, content, idempotencyKey string, replyToID int64, now time.Time) (*Message, error) {
	if chatID <= 0 || senderID <= 0 {
		return nil, errs.Invalidf("chat and sender are required")
	}
	if err := ValidateContent(content); err != nil {
		return nil, err
	}
	if err := ValidateIdempotencyKey(idempotencyKey); err != nil {
		return nil, err
	}
	if replyToID < 0 {
		return nil, errs.Invalidf("reply_to_id must be positive")
	}
	return &Message{chatID: chatID, senderID: senderID, content: content,
		idempotencyKey: idempotencyKey, replyToID: replyToID, createdAt: now,
		mentions: ParseMentions(content)}, nil
}

// NewWithAttachments is New for a message that carries files (1..10,
// each named once): its content may then be empty.
func NewWithAttachments(chatID, senderID int64, content, idempotencyKey string, replyToID int64, attachmentIDs []int64, now time.Time) (*Message, error) {
	if len(attachmentIDs) == 0 {
		return New(chatID, senderID, content, idempotencyKey, replyToID, now)
	}
	if err := validateAttachmentIDs(attachmentIDs); err != nil {
		return nil, err
	}
	placeholder := content
	if content == "" {
		placeholder = "-"
	}
	m, err := New(chatID, senderID, placeholder, idempotencyKey, replyToID, now)
	if err != nil {
		return nil, err
	}
	m.content = content
	m.attachmentIDs = append([]int64(nil), attachmentIDs...)
	return m, nil
}

// MaxAttachments is how many files one message carries at most.
const MaxAttachments = 10

func validateAttachmentIDs(ids []int64) error {
	if len(ids) > MaxAttachments {
		return errs.Invalidf("attachment_ids takes at most %d files", MaxAttachments)
	}
	for i, id := range ids {
		if id <= 0 {
			return errs.Invalidf("attachment_ids must be positive")
		}
		for _, other := range ids[:i] {
			if other == id {
				return errs.Invalidf("file %d is named twice in attachment_ids", id)
			}
		}
	}
	return nil
}

// AttachmentIDs are the files a message being sent carries.
func (m *Message) AttachmentIDs() []int64 { return m.attachmentIDs }

// Mentions are the users the message mentions: as parsed from its content
// until storage keeps only the chat's members (SetMentions).
func (m *Message) Mentions() Mentions { return m.mentions }

// SetMentions records the mentions storage kept (members only) or holds.
func (m *Message) SetMentions(x Mentions) { m.mentions = x }

// ThreadState is a thread root's reply count and latest reply, as a send
// or a delete left it.
type ThreadState struct {
	RootID, RootSeq int64
	ReplyCount      int
	LastReplyAt     time.Time // zero when no reply is left
}

// Thread is the state of the thread this message (a reply just sent)
// joined, when storage told it.
func (m *Message) Thread() (ThreadState, bool) {
	if m.thread == nil {
		return ThreadState{}, false
	}
	return *m.thread, true
}

// SetThread records the state of the thread after this reply was stored.
func (m *Message) SetThread(t ThreadState) { m.thread = &t }

// UnmarshalFromDatabase rebuilds a message from storage.
func UnmarshalFromDatabase(id, chatID, seq, senderID int64, content string, replyToID int64,
	idempotencyKey string, createdAt, editedAt, deletedAt time.Time) *Message {
	return &Message{id: id, chatID: chatID, seq: seq, senderID: senderID, content: content,
		replyToID: replyToID, idempotencyKey: idempotencyKey, createdAt: createdAt,
		editedAt: editedAt, deletedAt: deletedAt}
}

func (m *Message) ID() int64              { return m.id }
func (m *Message) ChatID() int64          { return m.chatID }
func (m *Message) Seq() int64             { return m.seq }
func (m *Message) SenderID() int64        { return m.senderID }
func (m *Message) Content() string        { return m.content }
func (m *Message) ReplyToID() int64       { return m.replyToID }
func (m *Message) IdempotencyKey() string { return m.idempotencyKey }
func (m *Message) CreatedAt() time.Time   { return m.createdAt }
func (m *Message) EditedAt() time.Time    { return m.editedAt }
func (m *Message) DeletedAt() time.Time   { return m.deletedAt }
func (m *Message) Deleted() bool          { return !m.deletedAt.IsZero() }

// Assign sets the identity storage gave the message when it was appended.
func (m *Message) Assign(id, seq int64) { m.id, m.seq = id, seq }

// SameRequest reports whether a repeat with the same idempotency key asks
// for the same thing as the original send.
func (m *Message) SameRequest(chatID int64, content string) bool {
	return m.chatID == chatID && m.content == content
}

// Edit replaces the content; only the sender may, and not after deletion.
func (m *Message) Edit(by int64, content string, now time.Time) error {
	if m.senderID != by {
		return errs.Forbiddenf("only the sender may edit message %d", m.seq)
	}
	if m.Deleted() {
		return errs.Conflictf("message %d is deleted", m.seq)
	}
	if err := ValidateContent(content); err != nil {
		return err
	}
	m.content = content
	m.editedAt = now
	m.mentions = ParseMentions(content) // storage keeps members only
	return nil
}

// Delete turns the message into a tombstone. The sender may, and so may the
// chat's owner or admins (canModerate). Deleting twice is not an error.
func (m *Message) Delete(by int64, canModerate bool, now time.Time) error {
	if m.senderID != by && !canModerate {
		return errs.Forbiddenf("only the sender or a chat owner or admin may delete message %d", m.seq)
	}
	if m.Deleted() {
		return nil
	}
	m.content = ""
	m.deletedAt = now
	m.mentions = Mentions{}
	return nil
}
