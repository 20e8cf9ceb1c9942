package porttest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/presence"
	"github.com/fechatter/fechatter/ports"
)

// presenceWait bounds every wait of the presence suites.
const presenceWait = 15 * time.Second

// RunPresenceStore is the contract of ports.PresenceStore. newStore returns
// a fresh store (isolated from every other call) whose instances live ttl
// after a beat and whose entries live entryTTL (at least 3 ttl), cleaned
// up through t; expiry is waited for in real time, so the TTLs are short.
//
// To show that something is NOT delivered, the suite puts a later marker
// entry and waits for it: changes come in order.
func RunPresenceStore(t *testing.T, newStore func(t *testing.T, ttl, entryTTL time.Duration) ports.PresenceStore) {
	t.Helper()
	const ttl = time.Second

	t.Run("WatchStartsWithTheLiveEntries", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, time.Minute, time.Hour)
		ctx := presenceContext(t)
		if s.TTL() != time.Minute || s.EntryTTL() != time.Hour {
			t.Fatalf("TTL() = %s, EntryTTL() = %s, want 1m and 1h", s.TTL(), s.EntryTTL())
		}
		a := presence.Entry{Status: presence.Online, Platform: "web ü", LastSeen: Now()}
		b := presence.Entry{Status: presence.Away, Platform: "", LastSeen: Now().Add(-time.Hour)}
		presencePut(t, ctx, s, "inst-1", 1, a)
		presencePut(t, ctx, s, "inst-1", 2, b)
		presencePut(t, ctx, s, "inst_2", 1, b)

		rec := presenceWatch(t, s) // the live entries are in before Watch returns
		got := rec.latest()
		if len(got) != 3 {
			t.Fatalf("watch started with %d entries, want 3: %+v", len(got), got)
		}
		presenceAssertEntry(t, got, "inst-1", 1, a)
		presenceAssertEntry(t, got, "inst-1", 2, b)
		presenceAssertEntry(t, got, "inst_2", 1, b)
	})

	t.Run("WatchSeesPutsAndDeletesInOrder", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, time.Minute, time.Hour)
		ctx := presenceContext(t)
		rec := presenceWatch(t, s)
		on := presence.Entry{Status: presence.Online, Platform: "ios", LastSeen: Now()}
		away := presence.Entry{Status: presence.Away, Platform: "ios", LastSeen: on.LastSeen.Add(time.Second)}
		presencePut(t, ctx, s, "a", 5, on)
		presencePut(t, ctx, s, "a", 5, away)
		if err := s.Delete(ctx, "a", 5); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		presencePut(t, ctx, s, "a", 6, on) // marker
		changes := rec.waitFor(t, "the marker", func(cs []ports.PresenceChange) bool {
			return len(cs) > 0 && cs[len(cs)-1].UserID == 6
		})
		// A store may coalesce a key's changes that the watcher has not
		// reached yet (a history-1 JetStream bucket keeps only the latest
		// revision per key, so a lagging consumer skips the older ones):
		// what it must deliver is an in-order subsequence of the writes
		// that ends with each key's latest state.
		want := []ports.PresenceChange{
			{Instance: "a", UserID: 5, Entry: on},
			{Instance: "a", UserID: 5, Entry: away},
			{Instance: "a", UserID: 5, Deleted: true},
			{Instance: "a", UserID: 6, Entry: on},
		}
		if len(changes) < 2 || len(changes) > len(want) {
			t.Fatalf("got %d changes, want 2..4: %+v", len(changes), changes)
		}
		i := 0
		for _, c := range changes {
			for i < len(want) && !samePresenceChange(c, want[i]) {
				i++
			}
			if i == len(want) {
				t.Fatalf("changes %+v are not an in-order subsequence of %+v", changes, want)
			}
			i++
		}
		if c := changes[len(changes)-2]; !c.Deleted || c.Instance != "a" || c.UserID != 5 {
			t.Fatalf("change before the marker %+v, want the delete (the key's latest state)", c)
		}
		again := presenceWatch(t, s).latest()
		if len(again) != 1 || again[0].UserID != 6 {
			t.Fatalf("a new watch starts with %+v, want only user 6", again)
		}
	})

	t.Run("InstancesHaveTheirOwnEntries", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, time.Minute, time.Hour)
		ctx := presenceContext(t)
		e := presence.Entry{Status: presence.Online, Platform: "web", LastSeen: Now()}
		presencePut(t, ctx, s, "one", 9, e)
		presencePut(t, ctx, s, "two", 9, e)
		if err := s.Delete(ctx, "one", 9); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := s.Delete(ctx, "one", 9); err != nil {
			t.Fatalf("Delete of a deleted entry: %v", err)
		}
		if err := s.Delete(ctx, "three", 9); err != nil {
			t.Fatalf("Delete of an entry never put: %v", err)
		}
		got := presenceWatch(t, s).latest()
		if len(got) != 1 || got[0].Instance != "two" {
			t.Fatalf("entries %+v, want instance two's only", got)
		}
	})

	t.Run("EntriesExpireUnlessRewritten", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, ttl/3, ttl)
		ctx := presenceContext(t)
		e := presence.Entry{Status: presence.Online, Platform: "web", LastSeen: Now()}
		presencePut(t, ctx, s, "dead", 1, e)
		presencePut(t, ctx, s, "alive", 2, e)
		// The live instance rewrites its entry every ttl/4; the dead one
		// never does. A watch started later sees the live one only.
		deadline := time.Now().Add(presenceWait)
		for {
			time.Sleep(ttl / 4)
			presencePut(t, ctx, s, "alive", 2, e)
			got := presenceEntries(presenceWatch(t, s).latest())
			if len(got) == 1 && got[0].Instance == "alive" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s the entries are %+v, want only the rewritten one", presenceWait, got)
			}
		}
	})

	t.Run("UnsubscribeStopsDelivery", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, time.Minute, time.Hour)
		ctx := presenceContext(t)
		stopped := presenceWatch(t, s)
		other := presenceWatch(t, s)
		if err := stopped.sub.Unsubscribe(); err != nil {
			t.Fatalf("Unsubscribe: %v", err)
		}
		if err := stopped.sub.Unsubscribe(); err != nil {
			t.Fatalf("second Unsubscribe: %v", err)
		}
		presencePut(t, ctx, s, "x", 1, presence.Entry{Status: presence.Online})
		other.waitFor(t, "the put", func(cs []ports.PresenceChange) bool { return len(cs) == 1 })
		if n := len(stopped.all()); n != 0 {
			t.Fatalf("an unsubscribed watch got %d changes", n)
		}
	})

	t.Run("BeatsAreWatched", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, time.Minute, time.Hour)
		ctx := presenceContext(t)
		presenceBeat(t, ctx, s, "one")
		rec := presenceWatch(t, s) // the beat is in before Watch returns
		if got := rec.all(); len(got) != 1 || !got[0].Beat || got[0].Instance != "one" || got[0].UserID != 0 {
			t.Fatalf("watch started with %+v, want instance one's beat", got)
		}
		// Beats and entries come in order, each beat as often as it is
		// written (one key per instance: a lagging watcher may see fewer).
		e := presence.Entry{Status: presence.Online, Platform: "web", LastSeen: Now()}
		presenceBeat(t, ctx, s, "two")
		presencePut(t, ctx, s, "two", 3, e)
		presenceBeat(t, ctx, s, "two")
		presencePut(t, ctx, s, "two", 4, e) // marker
		changes := rec.waitFor(t, "the marker", func(cs []ports.PresenceChange) bool {
			return len(cs) > 0 && cs[len(cs)-1].UserID == 4
		})
		var beats int
		for _, c := range changes[1:] {
			if c.Beat {
				if c.Instance != "two" || c.UserID != 0 || c.Deleted {
					t.Fatalf("beat %+v, want instance two's", c)
				}
				beats++
			}
		}
		if beats < 1 || !changes[len(changes)-2].Beat {
			t.Fatalf("changes %+v: want two's beat just before the marker (its latest write)", changes)
		}
	})

	t.Run("AWatchStartsWithoutBeatsOlderThanTTL", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, ttl/2, 4*ttl)
		ctx := presenceContext(t)
		e := presence.Entry{Status: presence.Online, Platform: "web", LastSeen: Now()}
		presenceBeat(t, ctx, s, "dead")
		presencePut(t, ctx, s, "dead", 1, e)
		// The live instance beats every ttl/8; the dead one stopped. A
		// watch started later has the live beat only, and still both
		// entries (they outlive a beat: the watcher judges them).
		deadline := time.Now().Add(presenceWait)
		for {
			time.Sleep(ttl / 8)
			presenceBeat(t, ctx, s, "alive")
			var beats []string
			entries := 0
			for _, c := range presenceWatch(t, s).all() {
				if c.Beat {
					beats = append(beats, c.Instance)
				} else if !c.Deleted {
					entries++
				}
			}
			if len(beats) == 1 && beats[0] == "alive" {
				if entries != 1 {
					t.Fatalf("a watch without the dead beat has %d entries, want the dead instance's one", entries)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s a watch starts with the beats of %v, want only alive's", presenceWait, beats)
			}
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, time.Minute, time.Hour)
		ctx := presenceContext(t)
		e := presence.Entry{Status: presence.Online}
		for _, tc := range []struct {
			instance string
			user     int64
		}{{"", 1}, {"a.b", 1}, {"a*", 1}, {"a b", 1}, {string(make([]byte, 65)), 1}, {"ok", 0}, {"ok", -1}} {
			if err := s.Put(ctx, tc.instance, tc.user, e); !errs.Is(err, errs.Invalid) {
				t.Errorf("Put(%q, %d) = %v, want invalid", tc.instance, tc.user, err)
			}
			if err := s.Delete(ctx, tc.instance, tc.user); !errs.Is(err, errs.Invalid) {
				t.Errorf("Delete(%q, %d) = %v, want invalid", tc.instance, tc.user, err)
			}
		}
		for _, instance := range []string{"", "a.b", "a*", string(make([]byte, 65))} {
			if err := s.Beat(ctx, instance); !errs.Is(err, errs.Invalid) {
				t.Errorf("Beat(%q) = %v, want invalid", instance, err)
			}
		}
		if _, err := s.Watch(ctx, nil); err == nil {
			t.Error("Watch with a nil handler succeeded")
		}
	})
}

// RunLastSeenRepository is the contract of ports.LastSeenRepository.
// newRepo returns a repository; cases isolate themselves by random user
// ids, so all may share one database.
func RunLastSeenRepository(t *testing.T, newRepo func(t *testing.T) ports.LastSeenRepository) {
	t.Helper()

	t.Run("SaveAndRead", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t)
		ctx := presenceContext(t)
		a, b, never := randomUserID(), randomUserID(), randomUserID()
		at := Now()
		if err := r.SaveLastSeen(ctx, []ports.LastSeen{{UserID: a, At: at, Platform: "web"}, {UserID: b, At: at.Add(-time.Hour), Platform: "ios"}}); err != nil {
			t.Fatalf("SaveLastSeen: %v", err)
		}
		got := lastSeenMap(t, r, a, b, never)
		if len(got) != 2 {
			t.Fatalf("got %d rows, want 2 (none for a user never seen): %+v", len(got), got)
		}
		if s := got[a]; !s.At.Equal(at) || s.Platform != "web" {
			t.Fatalf("user a: %+v, want %s web", s, at)
		}
		if s := got[b]; !s.At.Equal(at.Add(-time.Hour)) || s.Platform != "ios" {
			t.Fatalf("user b: %+v", s)
		}
		if err := r.SaveLastSeen(ctx, nil); err != nil {
			t.Fatalf("SaveLastSeen(nil): %v", err)
		}
		if rows, err := r.LastSeen(ctx, nil); err != nil || len(rows) != 0 {
			t.Fatalf("LastSeen(nil) = %v, %v", rows, err)
		}
	})

	t.Run("NeverMovesBack", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t)
		ctx := presenceContext(t)
		u := randomUserID()
		at := Now()
		save := func(s ports.LastSeen) {
			t.Helper()
			if err := r.SaveLastSeen(ctx, []ports.LastSeen{s}); err != nil {
				t.Fatalf("SaveLastSeen: %v", err)
			}
		}
		save(ports.LastSeen{UserID: u, At: at, Platform: "web"})
		save(ports.LastSeen{UserID: u, At: at.Add(-time.Minute), Platform: "cli"})
		if s := lastSeenMap(t, r, u)[u]; !s.At.Equal(at) || s.Platform != "web" {
			t.Fatalf("an older time moved it back: %+v", s)
		}
		save(ports.LastSeen{UserID: u, At: at.Add(time.Minute), Platform: ""})
		if s := lastSeenMap(t, r, u)[u]; !s.At.Equal(at.Add(time.Minute)) || s.Platform != "web" {
			t.Fatalf("a later time without platform: %+v, want the new time and the old platform", s)
		}
		save(ports.LastSeen{UserID: u, At: at.Add(2 * time.Minute), Platform: "android"})
		if s := lastSeenMap(t, r, u)[u]; !s.At.Equal(at.Add(2*time.Minute)) || s.Platform != "android" {
			t.Fatalf("a later time: %+v", s)
		}
	})

	t.Run("ConcurrentSaves", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t)
		ctx := presenceContext(t)
		u := randomUserID()
		at := Now()
		var wg sync.WaitGroup
		errc := make(chan error, 20)
		for i := range 20 {
			wg.Go(func() {
				errc <- r.SaveLastSeen(ctx, []ports.LastSeen{{UserID: u, At: at.Add(time.Duration(i) * time.Second), Platform: fmt.Sprint(i)}})
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatalf("SaveLastSeen: %v", err)
			}
		}
		if s := lastSeenMap(t, r, u)[u]; !s.At.Equal(at.Add(19*time.Second)) || s.Platform != "19" {
			t.Fatalf("after concurrent saves: %+v, want the latest", s)
		}
	})
}

func randomUserID() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.BigEndian.Uint64(b[:])>>2) + 1<<40
}

func lastSeenMap(t *testing.T, r ports.LastSeenRepository, ids ...int64) map[int64]ports.LastSeen {
	t.Helper()
	rows, err := r.LastSeen(presenceContext(t), ids)
	if err != nil {
		t.Fatalf("LastSeen: %v", err)
	}
	m := make(map[int64]ports.LastSeen, len(rows))
	for _, s := range rows {
		if _, dup := m[s.UserID]; dup {
			t.Fatalf("LastSeen returned user %d twice", s.UserID)
		}
		m[s.UserID] = s
	}
	return m
}

func presenceContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), presenceWait)
	t.Cleanup(cancel)
	return ctx
}

func presencePut(t *testing.T, ctx context.Context, s ports.PresenceStore, instance string, userID int64, e presence.Entry) {
	t.Helper()
	if err := s.Put(ctx, instance, userID, e); err != nil {
		t.Fatalf("Put(%s, %d): %v", instance, userID, err)
	}
}

func sameEntry(a, b presence.Entry) bool {
	return a.Status == b.Status && a.Platform == b.Platform && a.LastSeen.Equal(b.LastSeen)
}

func presenceAssertEntry(t *testing.T, cs []ports.PresenceChange, instance string, userID int64, want presence.Entry) {
	t.Helper()
	for _, c := range cs {
		if c.Instance == instance && c.UserID == userID {
			if c.Deleted || !sameEntry(c.Entry, want) {
				t.Fatalf("entry %s/%d = %+v, want %+v", instance, userID, c, want)
			}
			return
		}
	}
	t.Fatalf("no entry %s/%d in %+v", instance, userID, cs)
}

// presenceRecorder records the changes a watch delivers.
type presenceRecorder struct {
	sub     ports.Subscription
	mu      sync.Mutex
	changes []ports.PresenceChange
	changed chan struct{}
}

func presenceWatch(t *testing.T, s ports.PresenceStore) *presenceRecorder {
	t.Helper()
	r := &presenceRecorder{changed: make(chan struct{}, 1)}
	sub, err := s.Watch(presenceContext(t), func(c ports.PresenceChange) {
		r.mu.Lock()
		r.changes = append(r.changes, c)
		r.mu.Unlock()
		select {
		case r.changed <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	r.sub = sub
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return r
}

func (r *presenceRecorder) all() []ports.PresenceChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ports.PresenceChange(nil), r.changes...)
}

// latest is the live entries the changes so far leave.
func (r *presenceRecorder) latest() []ports.PresenceChange {
	type key struct {
		instance string
		user     int64
	}
	last := map[key]ports.PresenceChange{}
	var order []key
	for _, c := range r.all() {
		k := key{c.Instance, c.UserID}
		if _, ok := last[k]; !ok {
			order = append(order, k)
		}
		last[k] = c
	}
	var out []ports.PresenceChange
	for _, k := range order {
		if c := last[k]; !c.Deleted {
			out = append(out, c)
		}
	}
	return out
}

func (r *presenceRecorder) waitFor(t *testing.T, what string, ok func([]ports.PresenceChange) bool) []ports.PresenceChange {
	t.Helper()
	deadline := time.NewTimer(presenceWait)
	defer deadline.Stop()
	for {
		if cs := r.all(); ok(cs) {
			return cs
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; got %+v", what, r.all())
		}
	}
}

func samePresenceChange(a, b ports.PresenceChange) bool {
	if a.Instance != b.Instance || a.UserID != b.UserID || a.Deleted != b.Deleted {
		return false
	}
	return a.Deleted || sameEntry(a.Entry, b.Entry)
}

func presenceBeat(t *testing.T, ctx context.Context, s ports.PresenceStore, instance string) {
	t.Helper()
	if err := s.Beat(ctx, instance); err != nil {
		t.Fatalf("Beat(%s): %v", instance, err)
	}
}

// presenceEntries keeps the entries of changes, not the beats.
func presenceEntries(cs []ports.PresenceChange) []ports.PresenceChange {
	var out []ports.PresenceChange
	for _, c := range cs {
		if !c.Beat {
			out = append(out, c)
		}
	}
	return out
}
