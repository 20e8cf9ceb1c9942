package event

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The relay's and indexer's schedule is the one the hand-written loops had:
// the n-th wait is drawn from [d/2, d] with d = min·2ⁿ capped at max, and
// it starts over after a success.
func TestBackOffSchedule(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, 10 * time.Second
	for round := range 50 { // the waits are random: many draws
		b := newBackOff(lo, hi)
		d := lo
		for n := range 12 {
			got := b.NextBackOff()
			if got < d/2 || got > d {
				t.Fatalf("round %d, wait %d: %v, want within [%v, %v]", round, n, got, d/2, d)
			}
			d = min(2*d, hi)
		}
		if d != hi {
			t.Fatalf("schedule never reached the cap: %v", d)
		}
		b.Reset()
		if got := b.NextBackOff(); got < lo/2 || got > lo {
			t.Fatalf("after Reset: %v, want within [%v, %v]", got, lo/2, lo)
		}
	}
}

func TestRetryUntilDone(t *testing.T) {
	t.Run("retries until the operation succeeds, however long", func(t *testing.T) {
		fail := errors.New("down")
		tries := 0
		var waits []time.Duration
		got, err := retryUntilDone(context.Background(), newBackOff(time.Millisecond, 4*time.Millisecond),
			func() (int, error) {
				tries++
				if tries <= 6 {
					return 0, fail
				}
				return 42, nil
			},
			func(err error, wait time.Duration) {
				if !errors.Is(err, fail) {
					t.Errorf("notified of %v, want the operation's error", err)
				}
				waits = append(waits, wait)
			})
		if err != nil || got != 42 || tries != 7 {
			t.Fatalf("= %d, %v after %d tries; want 42, nil after 7", got, err, tries)
		}
		want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond}
		if len(waits) != len(want) {
			t.Fatalf("%d waits, want %d", len(waits), len(want))
		}
		for i, w := range waits {
			if w < want[i]/2 || w > want[i] {
				t.Errorf("wait %d = %v, want within [%v, %v]", i, w, want[i]/2, want[i])
			}
		}
	})
	t.Run("stops when the context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		tries := 0
		_, err := retryUntilDone(ctx, newBackOff(time.Hour, time.Hour),
			func() (struct{}, error) { tries++; return struct{}{}, errors.New("down") },
			func(error, time.Duration) { cancel() }) // cancelled during the hour's wait
		if !errors.Is(err, context.Canceled) || tries != 1 {
			t.Fatalf("= %v after %d tries, want context.Canceled after 1", err, tries)
		}
	})
}
