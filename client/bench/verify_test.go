package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fechatter/fechatter/client"
)

// history is a fake read-back: each chat's messages as the server would
// return them, in pages of pageSize (smaller than the run, so Verify
// pages).
type history struct {
	chats    map[int64][]client.Message
	pageSize int
	reads    atomic.Int64 // Verify reads chats concurrently
}

func (h *history) read(_ context.Context, chatID, after int64) (client.Messages, error) {
	h.reads.Add(1)
	all, ok := h.chats[chatID]
	if !ok {
		return client.Messages{}, errors.New("no such chat")
	}
	// Forward from after: the messages past the first with seq > after,
	// in stored order (a broken store may hold them out of order).
	start := len(all)
	for k, m := range all {
		if m.Seq > after {
			start = k
			break
		}
	}
	end := min(start+h.pageSize, len(all))
	return client.Messages{Messages: all[start:end], HasMore: end < len(all)}, nil
}

func stored(chatID, seq int64, i int) client.Message {
	return client.Message{ChatID: chatID, Seq: seq, Content: content("run", i)}
}

// run builds a run of n messages alternating between chats 1 and 2, each
// acknowledged 10 ms after it was tried and tried 100 ms after the one
// before, and their faithful store: seqs 1, 2, 3... per chat.
func run(n int) ([]SentMessage, map[int64][]client.Message) {
	t0 := time.Unix(1_800_000_000, 0)
	sent := make([]SentMessage, n)
	chats := map[int64][]client.Message{1: nil, 2: nil}
	for i := range n {
		chat := int64(1 + i%2)
		tried := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		sent[i] = SentMessage{ChatID: chat, Acked: true, Tried: tried, AckedAt: tried.Add(10 * time.Millisecond)}
		chats[chat] = append(chats[chat], stored(chat, int64(len(chats[chat])+1), i))
	}
	return sent, chats
}

func verifyRun(t *testing.T, sent []SentMessage, chats map[int64][]client.Message) Verification {
	t.Helper()
	h := &history{chats: chats, pageSize: 7}
	v, err := Verify(context.Background(), []int64{1, 2}, h.read, sent, messageIndex)
	if err != nil {
		t.Fatal(err)
	}
	if h.reads.Load() < 4 {
		t.Fatalf("%d pages read: Verify did not page", h.reads.Load())
	}
	return v
}

// TestVerifyFindsEachDefect: the read-back of a faithful store is clean,
// and each defect the contract forbids, planted in the store, is reported
// as what it is and nothing else.
func TestVerifyFindsEachDefect(t *testing.T) {
	const n = 40 // 20 per chat
	sent, chats := run(n)
	if v := verifyRun(t, sent, chats); !v.Clean() || v.Read != n || v.Acked != n || v.Chats != 2 || v.UnackedStored != 0 {
		t.Fatalf("faithful store: %s", v)
	}

	for _, tc := range []struct {
		name  string
		plant func(sent []SentMessage, chats map[int64][]client.Message)
		want  Verification // the counts that must be non-zero
	}{
		{"acknowledged but missing (the rest renumbered, no gap)", func(_ []SentMessage, chats map[int64][]client.Message) {
			c := chats[1]
			c = append(c[:5:5], c[6:]...) // message 10 (seq 6 of chat 1) gone
			for k := range c {
				c[k].Seq = int64(k + 1)
			}
			chats[1] = c
		}, Verification{Missing: 1}},
		{"stored twice", func(_ []SentMessage, chats map[int64][]client.Message) {
			chats[2] = append(chats[2], stored(2, 21, 7)) // message 7 again, at the end
		}, Verification{Duplicated: 1}},
		{"a seq gap", func(_ []SentMessage, chats map[int64][]client.Message) {
			for k := 10; k < len(chats[1]); k++ {
				chats[1][k].Seq += 2 // seqs 11 and 12 never given
			}
		}, Verification{Gaps: 2}},
		{"read back in the wrong seq order", func(_ []SentMessage, chats map[int64][]client.Message) {
			c := chats[2]
			c[3].Seq, c[4].Seq = c[4].Seq, c[3].Seq // the store answers 4 then... 5, 4
		}, Verification{OutOfOrder: 1}},
		{"ordered before a message acknowledged before it was sent", func(_ []SentMessage, chats map[int64][]client.Message) {
			c := chats[1]
			// Messages 4 and 6 (seqs 3 and 4 of chat 1): 4 was acked
			// before 6 was tried, yet the store gave 6 the lower seq.
			c[2].Content, c[3].Content = c[3].Content, c[2].Content
		}, Verification{OutOfOrder: 1}},
		{"stored though never acknowledged (not a defect)", func(sent []SentMessage, _ map[int64][]client.Message) {
			sent[12].Acked, sent[12].AckedAt = false, time.Time{}
		}, Verification{UnackedStored: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent, chats := run(n)
			tc.plant(sent, chats)
			v := verifyRun(t, sent, chats)
			got := Verification{Missing: v.Missing, Duplicated: v.Duplicated, Gaps: v.Gaps, OutOfOrder: v.OutOfOrder, UnackedStored: v.UnackedStored}
			if got != tc.want {
				t.Fatalf("found %s; want exactly %+v", v, tc.want)
			}
			if v.Clean() != (tc.want.Missing+tc.want.Duplicated+tc.want.Gaps+tc.want.OutOfOrder == 0) {
				t.Fatalf("Clean() = %v for %s", v.Clean(), v)
			}
		})
	}
}

func TestVerifyReportsAChatItCannotRead(t *testing.T) {
	sent, chats := run(4)
	h := &history{chats: chats, pageSize: 10}
	_, err := Verify(context.Background(), []int64{1, 2, 3}, h.read, sent, messageIndex)
	if err == nil || err.Error() != fmt.Sprintf("read chat %d back: no such chat", 3) {
		t.Fatalf("err = %v, want chat 3 unreadable", err)
	}
}
