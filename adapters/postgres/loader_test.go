package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports/porttest"
)

// fakeLoads is a load function whose queries the test releases one by one.
type fakeLoads struct {
	mu      sync.Mutex
	batches [][]int
	started chan []int
	release chan error
}

func newFakeLoads() *fakeLoads {
	return &fakeLoads{started: make(chan []int, 16), release: make(chan error)}
}

func (f *fakeLoads) load(_ context.Context, keys []int) (map[int]string, error) {
	f.mu.Lock()
	f.batches = append(f.batches, slices.Clone(keys))
	f.mu.Unlock()
	f.started <- slices.Clone(keys)
	if err := <-f.release; err != nil {
		return nil, err
	}
	out := make(map[int]string, len(keys))
	for _, k := range keys {
		if k%2 == 0 { // odd keys are found nothing for
			out[k] = "v" + string(rune('0'+k%10))
		}
	}
	return out, nil
}

type loadResult struct {
	val string
	err error
}

func goLoad(l *loader[int, string], ctx context.Context, key int) chan loadResult {
	ch := make(chan loadResult, 1)
	go func() {
		v, err := l.Load(ctx, key)
		ch <- loadResult{v, err}
	}()
	return ch
}

// waitQueued waits until n calls wait for the next query.
func waitQueued(t *testing.T, l *loader[int, string], n int) {
	t.Helper()
	porttest.Eventually(t, 5*time.Second, fmt.Sprintf("%d calls queued", n), func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.queue) == n
	})
}

// A lone call runs at once; the calls that come while its query is in
// flight go together in the next one, each answered with its own value.
func TestLoaderBatchesWhatQueuesDuringAQuery(t *testing.T) {
	f := newFakeLoads()
	l := newLoader("test lookup", 100, time.Second, f.load)

	first := goLoad(l, context.Background(), 2)
	if got := <-f.started; !slices.Equal(got, []int{2}) {
		t.Fatalf("first query keys %v, want [2]", got)
	}
	var waiting []chan loadResult
	keys := []int{4, 5, 4, 6, 8}
	for _, k := range keys {
		waiting = append(waiting, goLoad(l, context.Background(), k))
	}
	waitQueued(t, l, len(keys))
	f.release <- nil
	if r := <-first; r.err != nil || r.val != "v2" {
		t.Fatalf("first call = %+v, want v2", r)
	}
	got := <-f.started
	slices.Sort(got)
	if !slices.Equal(got, []int{4, 5, 6, 8}) {
		t.Fatalf("second query keys %v, want the four distinct keys queued meanwhile", got)
	}
	f.release <- nil
	for i, ch := range waiting {
		r := <-ch
		want := ""
		if keys[i]%2 == 0 {
			want = "v" + string(rune('0'+keys[i]))
		}
		if r.err != nil || r.val != want {
			t.Fatalf("call for %d = %+v, want %q", keys[i], r, want)
		}
	}
	if n := len(f.batches); n != 2 {
		t.Fatalf("%d queries for six calls, want 2", n)
	}
}

// A query takes at most maxKeys distinct keys; the rest go in the next.
func TestLoaderBoundsAQuery(t *testing.T) {
	f := newFakeLoads()
	l := newLoader("test lookup", 2, time.Second, f.load)
	first := goLoad(l, context.Background(), 0)
	<-f.started
	var rest []chan loadResult
	for _, k := range []int{2, 4, 6} {
		rest = append(rest, goLoad(l, context.Background(), k))
	}
	waitQueued(t, l, 3)
	f.release <- nil
	<-first
	if got := <-f.started; len(got) != 2 {
		t.Fatalf("second query keys %v, want 2 of them", got)
	}
	f.release <- nil
	if got := <-f.started; len(got) != 1 {
		t.Fatalf("third query keys %v, want the one left", got)
	}
	f.release <- nil
	for _, ch := range rest {
		if r := <-ch; r.err != nil || r.val == "" {
			t.Fatalf("call = %+v", r)
		}
	}
}

// A failed query fails each of its callers; a caller that gives up gets
// an Unavailable error at once, and the loader goes on for the others.
func TestLoaderErrorsAndCancel(t *testing.T) {
	f := newFakeLoads()
	l := newLoader("test lookup", 100, time.Second, f.load)
	failed := goLoad(l, context.Background(), 2)
	<-f.started
	boom := errors.New("connection reset")
	f.release <- boom
	if r := <-failed; !errors.Is(r.err, boom) {
		t.Fatalf("call of a failed query: %+v, want its error", r)
	}

	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := goLoad(l, ctx, 4)
	<-f.started
	cancel()
	if r := <-gaveUp; !errs.Is(r.err, errs.Unavailable) {
		t.Fatalf("canceled call: %+v, want Unavailable", r)
	}
	later := goLoad(l, context.Background(), 6)
	f.release <- nil // the abandoned query ends
	<-f.started
	f.release <- nil
	if r := <-later; r.err != nil || r.val != "v6" {
		t.Fatalf("call after a canceled one = %+v", r)
	}
}
