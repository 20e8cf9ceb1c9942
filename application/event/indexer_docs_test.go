package event_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/ports"
)

// ixDocs is a DocumentLoader over a map: the source of truth as the
// indexer reads it.
type ixDocs struct {
	mu       sync.Mutex
	docs     map[int64]ports.SearchDocument
	mentions map[int64][]int64 // by message: the users it mentions
	fail     int               // the next n loads fail
	loads    [][]int64
}

func (d *ixDocs) set(doc ports.SearchDocument) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.docs[doc.ID] = doc
}

func (d *ixDocs) SearchDocumentsByID(_ context.Context, ids []int64) ([]ports.SearchDocument, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.loads = append(d.loads, slices.Clone(ids))
	if d.fail > 0 {
		d.fail--
		return nil, errors.New("database down")
	}
	var out []ports.SearchDocument
	for _, id := range ids {
		if doc, ok := d.docs[id]; ok {
			out = append(out, doc)
		}
	}
	return out, nil
}

func (d *ixDocs) mention(messageID int64, users ...int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mentions[messageID] = users
}

func (d *ixDocs) MessagesMentioning(_ context.Context, chatID, userID int64) ([]int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []int64
	for id, doc := range d.docs {
		if doc.ChatID == chatID && slices.Contains(d.mentions[id], userID) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

func (d *ixDocs) loadCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.loads)
}

func runWithDocs(t *testing.T, src *ixSource, idx *ixIndex, docs *ixDocs) {
	t.Helper()
	ix, err := event.NewIndexer(src, idx, nil, event.IndexerOptions{BatchSize: 10, BatchTimeout: 20 * time.Millisecond,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	if err != nil {
		t.Fatalf("NewIndexer: %v", err)
	}
	ix.WithDocuments(docs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ix.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// With a loader, what is written is the document as stored (names the
// event does not carry), an edit re-reads it (its mentions changed), a
// message gone from the source is removed, and a failed read is retried.
func TestIndexerWritesTheStoredDocuments(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	docs := &ixDocs{docs: map[int64]ports.SearchDocument{}, mentions: map[int64][]int64{}, fail: 2}
	runWithDocs(t, src, idx, docs)

	m := ixMessage("<@5> see the attached report")
	stored := ports.SearchDocument{ID: m.ID, ChatID: m.ChatID, WorkspaceID: 1, SenderID: m.SenderID, Seq: m.Seq,
		Content: m.Content, FileNames: []string{"quarterly-report.pdf"}, MentionNames: []string{"Bob Builder", "bob"}, CreatedAt: m.CreatedAt}
	docs.set(stored)
	gone := ixMessage("deleted before the indexer read it")
	src.publish(ixCreated(m), ixCreated(gone))

	ixEventually(t, "the stored document indexed after two failed reads", func() bool {
		d, ok := idx.doc(m.ID)
		return ok && slices.Equal(d.MentionNames, stored.MentionNames) && slices.Equal(d.FileNames, stored.FileNames)
	})
	if docs.loadCount() < 3 {
		t.Errorf("%d loads, want the two failures retried", docs.loadCount())
	}
	if _, ok := idx.doc(gone.ID); ok {
		t.Errorf("a message the source does not hold live was indexed")
	}

	// An edit drops the mention: the event carries the new text, the
	// source the mentions as recomputed.
	edited := stored
	edited.Content, edited.MentionNames = "see the attached report", nil
	docs.set(edited)
	_, ev := ixEdited(m, edited.Content, ixBase.Add(time.Hour))
	src.publish(ev)
	ixEventually(t, "the edit indexed without the mention", func() bool {
		d, ok := idx.doc(m.ID)
		return ok && d.Content == edited.Content && len(d.MentionNames) == 0 && slices.Equal(d.FileNames, stored.FileNames)
	})

	src.publish(ixDeleted(m))
	ixEventually(t, "the delete", func() bool { _, ok := idx.doc(m.ID); return !ok })
}

// Without a loader, a created message's attachment names come from the
// event (message.created carries the files).
func TestIndexerTakesFileNamesFromTheEvent(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	ixRun(t, src, idx, event.IndexerOptions{BatchSize: 1})
	m := ixMessage("")
	src.publish(ixEvent(ports.EventMessageCreated, map[string]any{"id": m.ID, "chat_id": m.ChatID, "seq": m.Seq,
		"sender_id": m.SenderID, "content": "", "created_at": m.CreatedAt,
		"attachments": []map[string]any{{"id": 1, "name": "q3.pdf"}, {"id": 2, "name": "cat.png"}}}))
	ixEventually(t, "the document with its file names", func() bool {
		d, ok := idx.doc(m.ID)
		return ok && slices.Equal(d.FileNames, []string{"q3.pdf", "cat.png"})
	})
}

// A rename's message.reindex writes again, as stored now, the chat's
// messages that mention the user, in chunks; other chats' are left alone.
func TestIndexerReindexesMentionsAfterARename(t *testing.T) {
	src, idx := newIxSource(), newIxIndex()
	docs := &ixDocs{docs: map[int64]ports.SearchDocument{}, mentions: map[int64][]int64{}}
	runWithDocs(t, src, idx, docs)

	var ids []int64
	for i := range 1200 { // more than one chunk
		m := ixMessage(fmt.Sprintf("<@5> number %d", i))
		doc := ports.SearchDocument{ID: m.ID, ChatID: 7, Seq: m.Seq, Content: m.Content, MentionNames: []string{"Bob Builder", "bob"}}
		docs.set(doc)
		docs.mention(m.ID, 5)
		ids = append(ids, m.ID)
	}
	other := ixMessage("<@5> elsewhere")
	otherDoc := ports.SearchDocument{ID: other.ID, ChatID: 8, Content: other.Content, MentionNames: []string{"Bob Builder", "bob"}}
	docs.set(otherDoc)
	docs.mention(other.ID, 5)
	if err := idx.Upsert(context.Background(), []ports.SearchDocument{otherDoc}); err != nil {
		t.Fatal(err)
	}
	// Bob renames himself: storage has the new name.
	docs.mu.Lock()
	for id, d := range docs.docs {
		d.MentionNames = []string{"Robert Tables", "bob"}
		docs.docs[id] = d
	}
	docs.mu.Unlock()
	src.publish(ixEvent(ports.EventMessagesReindex, ports.MessagesReindexData{ChatID: 7, MentionedUserID: 5}))

	ixEventually(t, "every mention in chat 7 indexed with the new name", func() bool {
		for _, id := range ids {
			if d, ok := idx.doc(id); !ok || d.MentionNames[0] != "Robert Tables" {
				return false
			}
		}
		return true
	})
	if d, _ := idx.doc(other.ID); d.MentionNames[0] != "Bob Builder" {
		t.Errorf("another chat's message was indexed again: %+v", d)
	}
	biggest := 0
	for _, c := range idx.writes() {
		if c.op == "upsert" {
			biggest = max(biggest, c.n)
		}
	}
	if biggest > 500 {
		t.Errorf("an upsert of %d documents: a rename's mentions are written in chunks of 500", biggest)
	}
}
