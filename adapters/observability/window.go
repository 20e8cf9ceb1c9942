package observability

import (
	"sync"
	"time"
)

// window counts events and sums their durations over the last minute, in
// one-second buckets, for the health report's rates and averages.
type window struct {
	mu      sync.Mutex
	buckets [windowSeconds]bucket
}

const windowSeconds = 60

type bucket struct {
	second int64 // unix second the bucket holds; stale when older than the window
	count  int64
	total  time.Duration
}

func (w *window) add(now time.Time, took time.Duration) {
	sec := now.Unix()
	w.mu.Lock()
	b := &w.buckets[mod(sec, windowSeconds)]
	if b.second != sec {
		*b = bucket{second: sec}
	}
	b.count++
	b.total += took
	w.mu.Unlock()
}

// sum returns the events and total duration of the last minute, now's
// second included.
func (w *window) sum(now time.Time) (count int64, total time.Duration) {
	sec := now.Unix()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range w.buckets {
		if age := sec - b.second; age >= 0 && age < windowSeconds {
			count += b.count
			total += b.total
		}
	}
	return count, total
}

func mod(a, n int64) int64 {
	m := a % n
	if m < 0 {
		m += n
	}
	return m
}

// recentUsers remembers when each user last made an authenticated request,
// to count the users active within a span (the stand-in for "connected
// over WebSocket" until a gateway reports connections). Memory is bounded
// by the users active within the span: older entries are dropped.
type recentUsers struct {
	span time.Duration

	mu        sync.Mutex
	seen      map[int64]time.Time
	pruneSize int // prune on insert once seen grows past this
}

func newRecentUsers(span time.Duration) *recentUsers {
	return &recentUsers{span: span, seen: map[int64]time.Time{}, pruneSize: 1024}
}

func (r *recentUsers) touch(now time.Time, userID int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.seen[userID]; ok && !now.After(last) {
		return
	}
	r.seen[userID] = now
	if len(r.seen) > r.pruneSize {
		r.prune(now)
		r.pruneSize = max(1024, 2*len(r.seen))
	}
}

func (r *recentUsers) count(now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune(now)
	return len(r.seen)
}

func (r *recentUsers) prune(now time.Time) {
	for id, last := range r.seen {
		if now.Sub(last) >= r.span {
			delete(r.seen, id)
		}
	}
}
