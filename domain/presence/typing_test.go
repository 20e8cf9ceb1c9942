package presence_test

import (
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/presence"
)

func TestTyping(t *testing.T) {
	type step struct {
		at        time.Duration
		start     bool // else stop
		broadcast bool
		expires   time.Duration // want expiresAt = t0+expires with a broadcast start
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{name: "a start is broadcast with expires_at now + 6s", steps: []step{
			{at: 0, start: true, broadcast: true, expires: 6 * time.Second},
		}},
		{name: "repeats within 2s are throttled", steps: []step{
			{at: 0, start: true, broadcast: true, expires: 6 * time.Second},
			{at: time.Second, start: true, broadcast: false},
			{at: 2*time.Second - time.Millisecond, start: true, broadcast: false},
			{at: 2 * time.Second, start: true, broadcast: true, expires: 8 * time.Second},
		}},
		{name: "clients re-sending every 3s are broadcast each time", steps: []step{
			{at: 0, start: true, broadcast: true, expires: 6 * time.Second},
			{at: 3 * time.Second, start: true, broadcast: true, expires: 9 * time.Second},
			{at: 6 * time.Second, start: true, broadcast: true, expires: 12 * time.Second},
		}},
		{name: "an explicit stop is broadcast once", steps: []step{
			{at: 0, start: true, broadcast: true, expires: 6 * time.Second},
			{at: time.Second, broadcast: true},
			{at: 2 * time.Second, broadcast: false},
		}},
		{name: "a start right after a stop is broadcast", steps: []step{
			{at: 0, start: true, broadcast: true, expires: 6 * time.Second},
			{at: 500 * time.Millisecond, broadcast: true},
			{at: time.Second, start: true, broadcast: true, expires: 7 * time.Second},
		}},
		{name: "a stop after expiry says nothing", steps: []step{
			{at: 0, start: true, broadcast: true, expires: 6 * time.Second},
			{at: 6 * time.Second, broadcast: false},
		}},
		{name: "a stop without a start says nothing", steps: []step{
			{at: 0, broadcast: false},
		}},
		{name: "a throttled repeat does not extend the expiry", steps: []step{
			{at: 0, start: true, broadcast: true, expires: 6 * time.Second},
			{at: time.Second, start: true, broadcast: false},
			{at: 6 * time.Second, broadcast: false},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ty presence.Typing
			r := presence.TypingRules{}.WithDefaults()
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				if s.start {
					b, exp := ty.Start(now, r)
					if b != s.broadcast {
						t.Fatalf("step %d: start broadcast = %v, want %v", i, b, s.broadcast)
					}
					if b && !exp.Equal(t0.Add(s.expires)) {
						t.Fatalf("step %d: expires_at %s, want t0+%s", i, exp, s.expires)
					}
					if !ty.Active(now) {
						t.Fatalf("step %d: not active after a start", i)
					}
					continue
				}
				if b := ty.Stop(now); b != s.broadcast {
					t.Fatalf("step %d: stop broadcast = %v, want %v", i, b, s.broadcast)
				}
				if ty.Active(now) {
					t.Fatalf("step %d: active after a stop", i)
				}
			}
		})
	}
}
