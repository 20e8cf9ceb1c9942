package querytest

import (
	"fmt"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

// Env is the repositories the suites write through (see porttest.Env) and
// the read models under test, all over one storage.
type Env struct {
	porttest.Env
	ChatReads    query.ChatReadModel
	MessageReads query.MessageReadModel
	ReceiptReads query.ReceiptReadModel
	SearchReads  SearchReads
	// For RunThreadsAndMentions (with Env.Sender).
	Threads     ports.ThreadRepository
	ThreadReads query.ThreadReadModel
	// For RunSearchDocuments (with Env.Sender).
	Files     ports.FileRepository
	Documents SearchDocuments
	Profiles  ports.ProfileRepository
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func sameInt64Ptr(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func sameStringPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func checkMessage(t *testing.T, got, want query.Message) {
	t.Helper()
	if got.ID != want.ID || got.ChatID != want.ChatID || got.Seq != want.Seq || got.SenderID != want.SenderID ||
		got.Content != want.Content || !sameInt64Ptr(got.ReplyToID, want.ReplyToID) ||
		!sameStringPtr(got.IdempotencyKey, want.IdempotencyKey) || !got.CreatedAt.Equal(want.CreatedAt) ||
		!sameTimePtr(got.EditedAt, want.EditedAt) || !sameTimePtr(got.DeletedAt, want.DeletedAt) {
		t.Fatalf("message = %s; want %s", showMessage(got), showMessage(want))
	}
}

func showMessage(m query.Message) string {
	s := func(p any) any {
		switch v := p.(type) {
		case *int64:
			if v != nil {
				return *v
			}
		case *string:
			if v != nil {
				return *v
			}
		case *time.Time:
			if v != nil {
				return *v
			}
		}
		return nil
	}
	return fmtAny(struct {
		ID, ChatID, Seq, SenderID int64
		Content                   string
		ReplyToID, Key            any
		CreatedAt                 time.Time
		EditedAt, DeletedAt       any
	}{m.ID, m.ChatID, m.Seq, m.SenderID, m.Content, s(m.ReplyToID), s(m.IdempotencyKey), m.CreatedAt, s(m.EditedAt), s(m.DeletedAt)})
}

func fmtAny(v any) string { return fmt.Sprintf("%+v", v) }
