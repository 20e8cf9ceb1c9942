package system_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/system"
)

func TestTokenBucket(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		rate  float64
		burst int
		steps []step
	}{
		{"burst then refused with the wait for one token", 2, 3, []step{
			{0, true, 0}, {0, true, 0}, {0, true, 0}, {0, false, 500 * time.Millisecond},
			{250 * time.Millisecond, false, 250 * time.Millisecond}, // refused attempts take no token
			{250 * time.Millisecond, true, 0}, {0, false, 500 * time.Millisecond},
		}},
		{"refills up to burst only", 10, 2, []step{
			{0, true, 0}, {0, true, 0}, {time.Hour, true, 0}, {0, true, 0}, {0, false, 100 * time.Millisecond},
		}},
		{"zero rate allows everything", 0, 0, []step{{0, true, 0}, {0, true, 0}, {0, true, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := memory.NewFakeClock(t0)
			b := system.NewTokenBucket(tt.rate, tt.burst, clock)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				ok, wait := b.Allow(ctx, "k")
				if ok != s.ok || wait != s.wait {
					t.Fatalf("step %d: Allow = %v, %v; want %v, %v", i, ok, wait, s.ok, s.wait)
				}
			}
		})
	}
}

type step struct {
	advance time.Duration
	ok      bool
	wait    time.Duration
}

func TestTokenBucketKeysAreIndependentAndResettable(t *testing.T) {
	ctx := context.Background()
	clock := memory.NewFakeClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	b := system.NewWindowBucket(2, time.Hour, clock)
	for _, k := range []string{"a", "a", "b", "b"} {
		if ok, _ := b.Allow(ctx, k); !ok {
			t.Fatalf("%s refused within its burst", k)
		}
	}
	if ok, wait := b.Allow(ctx, "a"); ok || wait != 30*time.Minute {
		t.Fatalf("a: %v %v, want refused for 30m (2 per hour)", ok, wait)
	}
	b.Reset(ctx, "a")
	if ok, _ := b.Allow(ctx, "a"); !ok {
		t.Fatal("a refused after Reset")
	}
}

func TestTokenBucketEvictsIdleKeys(t *testing.T) {
	ctx := context.Background()
	clock := memory.NewFakeClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	b := system.NewTokenBucket(1, 1, clock)
	for i := 0; i < 1000; i++ {
		b.Allow(ctx, fmt.Sprint("idle-", i))
	}
	clock.Advance(2 * time.Second) // every bucket is full again
	for i := 0; i < 100; i++ {
		b.Allow(ctx, fmt.Sprint("active-", i))
	}
	if n := b.Len(); n > 100 {
		t.Fatalf("%d keys held after the idle ones refilled; want the active ones only", n)
	}
}

func TestSecretsAreDistinctAndSized(t *testing.T) {
	var g system.SecretGenerator
	a, b := g.Secret(32), g.Secret(32)
	if a == b || len(a) != 43 {
		t.Fatalf("secrets %q %q", a, b)
	}
	if n := len(g.Secret(0)); n != 43 {
		t.Fatalf("default length %d", n)
	}
	if now := (system.Clock{}).Now(); now.Location() != time.UTC || now.Nanosecond()%1000 != 0 {
		t.Fatalf("clock %v not UTC microseconds", now)
	}
}
