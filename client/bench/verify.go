package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fechatter/fechatter/client"
)

// --verify: every chat of the run read back at the end and held against
// the contract: an acknowledged message is stored, once per idempotency
// key, seqs run 1, 2, 3... without a gap, and a message acknowledged
// before another was sent into its chat comes before it. The bench
// (Config.Verify) and the fault suite both check their runs with Verify.

// SentMessage is what a run knows of one message it sent: message i of
// the run, whose content names i.
type SentMessage struct {
	ChatID int64
	Acked  bool
	// Tried is when its first attempt went out, AckedAt when its ack (or
	// 201) came; zero when unknown (the order check then skips it).
	Tried, AckedAt time.Time
}

// Verification is what reading every chat back found.
type Verification struct {
	Chats int   `json:"chats"`
	Read  int64 `json:"read"`  // messages read back
	Acked int64 `json:"acked"` // sends acknowledged
	// Missing are acknowledged messages not stored.
	Missing int64 `json:"missing"`
	// Duplicated are the extra copies of messages stored more than once.
	Duplicated int64 `json:"duplicated"`
	// OutOfOrder are messages read back after a higher seq, or ordered
	// before a message of their chat acknowledged before they were sent.
	OutOfOrder int64 `json:"out_of_order"`
	// Gaps are the seqs between 1 and the last one read that no message
	// holds.
	Gaps int64 `json:"gaps"`
	// UnackedStored are messages stored whose sends were never
	// acknowledged (their answers lost): not a fault.
	UnackedStored int64   `json:"unacked_stored"`
	Seconds       float64 `json:"seconds"`
}

// Clean reports whether the read-back found nothing the contract forbids.
func (v Verification) Clean() bool {
	return v.Missing == 0 && v.Duplicated == 0 && v.OutOfOrder == 0 && v.Gaps == 0
}

func (v Verification) String() string {
	return fmt.Sprintf("%d chats read back: %d messages, %d acknowledged; missing %d, duplicated %d, out of order %d, seq gaps %d (%d stored unacknowledged)",
		v.Chats, v.Read, v.Acked, v.Missing, v.Duplicated, v.OutOfOrder, v.Gaps, v.UnackedStored)
}

// Verify reads each chat forward from its first message with read (a few
// chats at a time) and checks the run's messages: sent[i] is message i,
// found among those read by index(content).
func Verify(ctx context.Context, chats []int64, read PageReader, sent []SentMessage, index func(content string) (int, bool)) (Verification, error) {
	start := time.Now()
	v := Verification{Chats: len(chats)}
	var mu sync.Mutex
	count := make([]int32, len(sent))
	err := forEach(ctx, len(chats), 8, func(ctx context.Context, k int) error {
		c, err := verifyChat(ctx, chats[k], read, sent, index)
		if err != nil {
			return fmt.Errorf("read chat %d back: %w", chats[k], err)
		}
		mu.Lock()
		defer mu.Unlock()
		v.Read += c.read
		v.Gaps += c.gaps
		v.OutOfOrder += c.outOfOrder
		for _, i := range c.found {
			count[i]++
		}
		return nil
	})
	if err != nil {
		return v, err
	}
	for i, m := range sent {
		n := int64(count[i])
		v.Duplicated += max(n-1, 0)
		switch {
		case m.Acked:
			v.Acked++
			if n == 0 {
				v.Missing++
			}
		case n > 0:
			v.UnackedStored++
		}
	}
	v.Seconds = time.Since(start).Seconds()
	return v, nil
}

type chatVerdict struct {
	read, gaps, outOfOrder int64
	found                  []int // the run's messages read, by index
}

func verifyChat(ctx context.Context, chatID int64, read PageReader, sent []SentMessage, index func(string) (int, bool)) (chatVerdict, error) {
	var (
		c    chatVerdict
		last int64 // the highest seq read so far
		seqs seqSet
		n    int64 // distinct seqs read
		// the run's acknowledged messages of this chat, in the order read
		// (a copy after the first is counted as duplicated, not here)
		order []int
		seen  = map[int]bool{}
	)
	err := readForward(ctx, chatID, 0, read, func(m client.Message) {
		c.read++
		if m.Seq <= last {
			c.outOfOrder++
		}
		last = max(last, m.Seq)
		if seqs.add(m.Seq) {
			n++
		}
		i, ok := index(m.Content)
		if !ok || i < 0 || i >= len(sent) {
			return
		}
		c.found = append(c.found, i)
		if sent[i].Acked && !seen[i] {
			seen[i] = true
			order = append(order, i)
		}
	})
	if err != nil {
		return c, err
	}
	c.gaps = last - n // the seqs up to the last that were never read
	// Order: a message acknowledged before another was first tried must
	// come before it. From the last message back, the earliest ack among
	// those read after; a message tried after it is out of order.
	var earliest time.Time
	for k := len(order) - 1; k >= 0; k-- {
		m := sent[order[k]]
		if !m.Tried.IsZero() && !earliest.IsZero() && m.Tried.After(earliest) {
			c.outOfOrder++
		}
		if !m.AckedAt.IsZero() && (earliest.IsZero() || m.AckedAt.Before(earliest)) {
			earliest = m.AckedAt
		}
	}
	return c, nil
}
