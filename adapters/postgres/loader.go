package postgres

import (
	"context"
	"sync"
	"time"
)

// loader answers many callers' lookups of one kind with one query: a call
// queues its key; while a query is in flight, the keys that queue meanwhile
// wait for it and go together in the next (up to maxKeys). A lone call runs
// at once: no timer, the same rule as the send path's group commit. When a
// thousand clients connect in the same second (a restart, the morning),
// their lookups cost a few dozen round trips, not a thousand, and no
// caller holds a pool connection while it waits.
type loader[K comparable, V any] struct {
	what    string // for errors: "check session"
	load    func(ctx context.Context, keys []K) (map[K]V, error)
	maxKeys int
	timeout time.Duration

	mu      sync.Mutex
	queue   []*loadCall[K, V]
	running bool
}

type loadCall[K comparable, V any] struct {
	key  K
	val  V
	err  error
	done chan struct{}
}

// newLoader returns a loader whose queries are load over at most maxKeys
// distinct keys, each bounded by timeout. load leaves out the keys it
// found nothing for; their callers get V's zero value.
func newLoader[K comparable, V any](what string, maxKeys int, timeout time.Duration, load func(ctx context.Context, keys []K) (map[K]V, error)) *loader[K, V] {
	return &loader[K, V]{what: what, load: load, maxKeys: maxKeys, timeout: timeout}
}

// Load returns key's value from the next query that includes it. A caller
// that gives up (ctx) leaves; its key is still looked up.
func (l *loader[K, V]) Load(ctx context.Context, key K) (V, error) {
	call := &loadCall[K, V]{key: key, done: make(chan struct{})}
	l.mu.Lock()
	l.queue = append(l.queue, call)
	start := !l.running
	l.running = true
	l.mu.Unlock()
	if start {
		go l.run()
	}
	select {
	case <-call.done:
		return call.val, call.err
	case <-ctx.Done():
		var zero V
		return zero, dbError(ctx.Err(), l.what)
	}
}

// run queries until the queue is empty, each time for what queued while
// the previous query ran.
func (l *loader[K, V]) run() {
	for {
		l.mu.Lock()
		if len(l.queue) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		batch, keys := l.takeLocked()
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
		vals, err := l.load(ctx, keys)
		cancel()
		for _, c := range batch {
			if err != nil {
				c.err = err
			} else {
				c.val = vals[c.key]
			}
			close(c.done)
		}
	}
}

// takeLocked takes the calls of up to maxKeys distinct keys off the queue.
func (l *loader[K, V]) takeLocked() ([]*loadCall[K, V], []K) {
	seen := make(map[K]struct{}, min(len(l.queue), l.maxKeys))
	keys := make([]K, 0, min(len(l.queue), l.maxKeys))
	n := 0
	for _, c := range l.queue {
		if _, ok := seen[c.key]; !ok {
			if len(keys) == l.maxKeys {
				break
			}
			seen[c.key] = struct{}{}
			keys = append(keys, c.key)
		}
		n++
	}
	batch := l.queue[:n:n]
	l.queue = append([]*loadCall[K, V](nil), l.queue[n:]...)
	return batch, keys
}
