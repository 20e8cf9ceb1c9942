package event_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/presence"
	"github.com/fechatter/fechatter/ports/porttest"
)

// oneChat says every user is in chat 1.
type oneChat struct{}

func (oneChat) MemberChatIDs(context.Context, int64) ([]int64, error) { return []int64{1}, nil }

func (oneChat) MemberChatIDsOf(_ context.Context, userIDs []int64) (map[int64][]int64, error) {
	out := make(map[int64][]int64, len(userIDs))
	for _, u := range userIDs {
		out[u] = []int64{1}
	}
	return out, nil
}

// presenceNotes records what the watcher hands its notifier.
type presenceNotes struct {
	mu  sync.Mutex
	got []query.Presence
	changes
}

func (n *presenceNotes) PresenceChanged(p query.Presence, _ []int64) {
	n.mu.Lock()
	n.got = append(n.got, p)
	n.mu.Unlock()
	n.signal()
}

func (n *presenceNotes) count(status string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, p := range n.got {
		if p.Status == status {
			c++
		}
	}
	return c
}

// An instance's entries count while it beats: an instance silent for TTL
// after its last beat takes its users offline although its entries are
// still stored, and its next beat brings them back without a rewrite.
// Before an instance is heard beating its entries count while rewritten
// within TTL (the rule of the version before the beats: a rolling upgrade
// mixes both).
func TestPresenceWatcherCountsTheEntriesOfInstancesThatBeat(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	clock := memory.NewFakeClock(t0)
	store := memory.NewPresenceStore(clock, 75*time.Second, 2*time.Hour)
	w := event.NewPresenceWatcher(store, oneChat{}, clock, nil, event.PresenceWatcherOptions{Tick: time.Hour})
	notes := &presenceNotes{changes: make(changes, 1)}
	if err := w.Start(context.Background(), notes); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	ctx := context.Background()
	status := func() string {
		p, ok := w.Presence([]int64{7})[7]
		if !ok {
			return "unknown"
		}
		return p.Status
	}

	if err := store.Put(ctx, "x", 7, presence.Entry{Status: presence.Online, Platform: "web", LastSeen: t0}); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, "x", 8, presence.Entry{Status: presence.Online, Platform: "web", LastSeen: t0}); err != nil {
		t.Fatal(err)
	}
	if err := store.Beat(ctx, "marker"); err != nil { // changes come in order: x's entries are in
		t.Fatal(err)
	}
	// The marker's beat is not a presence change: wait for x's entries
	// by the watcher's view of a user of the marker instance instead.
	if err := store.Put(ctx, "marker", 98, presence.Entry{Status: presence.Online, LastSeen: t0}); err != nil {
		t.Fatal(err)
	}
	porttest.Eventually(t, waitLimit, "the marker", func() bool { return len(w.Presence([]int64{98})) == 1 })
	if s := status(); s != "online" {
		t.Fatalf("before x beats, user 7 is %s; want online (an entry put within TTL, as before the beats)", s)
	}
	if err := store.Beat(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	notes.waitUntil(t, "7 and 8 online", func() bool { return notes.count("online") == 3 }) // and the marker user 98
	// x beats every 25 s for a while: nothing changes. (Each beat is
	// followed by an entry of a marker user, waited for: the watcher has
	// heard the beat before Expire runs.)
	for i := range 4 {
		clock.Advance(25 * time.Second)
		if err := store.Beat(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		at := clock.Now()
		if err := store.Put(ctx, "x", 99, presence.Entry{Status: presence.Online, LastSeen: at}); err != nil {
			t.Fatal(err)
		}
		porttest.Eventually(t, waitLimit, fmt.Sprintf("marker %d", i), func() bool {
			p, ok := w.Presence([]int64{99})[99]
			return ok && p.LastSeen != nil && p.LastSeen.Equal(at)
		})
		w.Expire()
	}
	notes.waitUntil(t, "the marker user 99 online", func() bool { return notes.count("online") == 4 })
	// x dies: 74 s after its last beat, still online; at 75 s, offline.
	clock.Advance(74 * time.Second)
	w.Expire()
	if s := status(); s != "online" {
		t.Fatalf("74 s after the last beat: %s", s)
	}
	clock.Advance(time.Second)
	w.Expire()
	notes.waitUntil(t, "7 and 8 offline", func() bool { return notes.count("offline") == 4 }) // and the markers 99 (of x) and 98 (of the marker instance, dead too)
	if s := status(); s != "offline" {
		t.Fatalf("75 s after the last beat: %s", s)
	}
	// x comes back (a long pause, a partition): its beat alone brings its
	// users back.
	if err := store.Beat(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	notes.waitUntil(t, "7 and 8 back", func() bool { return notes.count("online") == 7 })
	// Silent for longer than an entry lives, x is forgotten with its
	// entries: a beat then brings nobody back.
	clock.Advance(2 * time.Hour)
	w.Expire()
	notes.waitUntil(t, "all offline again", func() bool { return notes.count("offline") == 7 })
	if err := store.Beat(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := store.Beat(ctx, "marker"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	w.Expire()
	if s := status(); s != "offline" {
		t.Fatalf("after x was forgotten, its beat made user 7 %s", s)
	}
}

// During a rolling upgrade instances of the version before the beats
// rewrite their entries every heartbeat and never beat: their users count
// while the entries are rewritten within TTL. And a watcher that starts
// after an instance died does not take its stored keys for fresh: their
// own times say how old they are.
func TestPresenceWatcherAcrossAnUpgradeAndAfterADeath(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	clock := memory.NewFakeClock(t0)
	store := memory.NewPresenceStore(clock, 75*time.Second, 2*time.Hour)
	ctx := context.Background()
	put := func(instance string, user int64) {
		t.Helper()
		if err := store.Put(ctx, instance, user, presence.Entry{Status: presence.Online, Platform: "web", LastSeen: clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	// "gone" beat and put its user, then died two minutes ago.
	if err := store.Beat(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	put("gone", 30)
	clock.Advance(2 * time.Minute)
	put("old", 20) // an instance of the previous version: no beat

	w := event.NewPresenceWatcher(store, oneChat{}, clock, nil, event.PresenceWatcherOptions{Tick: time.Hour})
	notes := &presenceNotes{changes: make(changes, 1)}
	if err := w.Start(ctx, notes); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	status := func(user int64) string {
		p, ok := w.Presence([]int64{user})[user]
		if !ok {
			return "unknown"
		}
		return p.Status
	}
	if s := status(30); s == "online" {
		t.Fatal("a watcher started after gone died shows its user online: its beat and entry are two minutes old")
	}
	if s := status(20); s != "online" {
		t.Fatalf("old's user is %s, want online (entry put just now)", s)
	}
	// old rewrites within TTL: online; then stops: offline TTL after the
	// last rewrite.
	clock.Advance(50 * time.Second)
	put("old", 20)
	porttest.Eventually(t, waitLimit, "the rewrite heard", func() bool {
		p := w.Presence([]int64{20})[20]
		return p.LastSeen != nil && p.LastSeen.Equal(clock.Now())
	})
	clock.Advance(74 * time.Second)
	w.Expire()
	if s := status(20); s != "online" {
		t.Fatalf("74 s after old's last rewrite: %s, want online", s)
	}
	clock.Advance(time.Second)
	w.Expire()
	if s := status(20); s != "offline" {
		t.Fatalf("75 s after old's last rewrite: %s, want offline", s)
	}
}
