package event

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/presence"
	"github.com/fechatter/fechatter/ports"
)

// PresenceNotifier delivers presence changes to this instance's clients:
// the WebSocket gateway.
type PresenceNotifier interface {
	// PresenceChanged delivers p, once per connection, to the local
	// connections of the members of chatIDs, except those of p's own user.
	// It must not block.
	PresenceChanged(p query.Presence, chatIDs []int64)
}

// PresenceWatcherOptions tune a PresenceWatcher.
type PresenceWatcherOptions struct {
	// Tick is how often entries not rewritten within the store's TTL are
	// dropped. Default 1 s.
	Tick time.Duration
	// LookupTimeout bounds the lookup of a changed user's chats. Default 5 s.
	LookupTimeout time.Duration
}

// PresenceWatcher runs on every instance. It watches every entry of the
// presence store (each instance's view of each of its users) and every
// instance's beat, merges per user the entries of the instances alive
// (heard beating within the store's TTL) into one presence
// (presence.Merge) and, when a user's status or platform changes, looks up
// the user's chats and hands the change to the notifier, which delivers it
// to the local connections in those chats. An instance that stops beating
// takes its users' entries out of the merge TTL after its last beat; one
// that beats again brings them back. It is also the query side's
// PresenceView.
//
// Fan-out choice: every instance already receives every change through
// its watch, so nothing more travels over NATS; each instance asks the
// database for the changed user's chat ids (one indexed query, about as
// many rows as the user has chats) and delivers to the connections of the
// chats it follows, deduplicated per connection. Publishing per co-member
// instead would cost one message per co-member (a thousand for a member of
// a big channel) on every change, and a co-member query returns as many
// rows. Changes queue per user, coalesced, so a burst (an instance dying
// with thousands of users) costs one lookup per user, not per change.
type PresenceWatcher struct {
	store ports.PresenceStore
	chats query.MemberChats
	clock ports.Clock
	log   *zap.Logger
	opts  PresenceWatcherOptions

	mu      sync.Mutex
	entries map[int64]instanceEntries     // user -> its entry of each instance
	users   map[string]map[int64]struct{} // instance -> users it has an entry of
	beats   map[string]beat               // instance -> its last beat heard
	known   map[int64]presence.Entry      // merged; kept when a user goes offline for last seen
	pending map[int64]struct{}            // changes waiting for fan-out
	loading bool

	wake     chan struct{}
	notifier PresenceNotifier
	sub      ports.Subscription
	stop     context.CancelFunc
	done     sync.WaitGroup
}

// beat is what the watcher knows of an instance's life.
type beat struct {
	at   time.Time // when it last beat (as the store says); zero: never heard
	seen time.Time // while it never beat: when its latest entry was put
	dead bool      // silent for TTL since at (Expire said so)
}

// watched is an entry and when the store took it.
type watched struct {
	entry presence.Entry
	at    time.Time
	stale bool // of an instance that never beat, not rewritten within TTL
}

// instanceEntries are a user's entries, one per instance it is connected
// to: nearly always one, so a slice (a user costs a few dozen bytes where
// a map of one cost nearly a kilobyte, at 19,000 users per watcher).
type instanceEntries []instanceEntry

type instanceEntry struct {
	instance string
	watched
}

func (es instanceEntries) get(instance string) (watched, bool) {
	for _, e := range es {
		if e.instance == instance {
			return e.watched, true
		}
	}
	return watched{}, false
}

// set replaces instance's entry or adds it; on a nil or full slice the
// caller keeps what it returns through the pointer.
func (es *instanceEntries) set(instance string, w watched) {
	for i := range *es {
		if (*es)[i].instance == instance {
			(*es)[i].watched = w
			return
		}
	}
	*es = append(*es, instanceEntry{instance: instance, watched: w})
}

// del removes instance's entry and reports whether there was one.
func (es *instanceEntries) del(instance string) bool {
	for i := range *es {
		if (*es)[i].instance == instance {
			*es = slices.Delete(*es, i, i+1)
			return true
		}
	}
	return false
}

// liveLocked reports whether instance's entry e counts. An instance heard
// beating counts while it beats. One never heard beating (a version from
// before the beats, during a rolling upgrade; or a new one whose first
// beat is still on its way) counts an entry it rewrote within TTL.
func (w *PresenceWatcher) liveLocked(instance string, e watched, now time.Time) bool {
	b, ok := w.beats[instance]
	switch {
	case !ok:
		return false
	case !b.at.IsZero():
		return !b.dead
	default:
		return now.Sub(e.at) < w.store.TTL()
	}
}

// heardAt is when the store took c: its own time, unless later than now
// (clocks differ) or unknown.
func heardAt(c ports.PresenceChange, now time.Time) time.Time {
	if !c.At.IsZero() && c.At.Before(now) {
		return c.At
	}
	return now
}

var _ query.PresenceView = (*PresenceWatcher)(nil)

// NewPresenceWatcher builds a watcher; Start starts it.
func NewPresenceWatcher(store ports.PresenceStore, chats query.MemberChats, clock ports.Clock, log *zap.Logger, o PresenceWatcherOptions) *PresenceWatcher {
	if store == nil || chats == nil || clock == nil {
		panic("event: NewPresenceWatcher needs a store, member chats and a clock")
	}
	if log == nil {
		log = zap.NewNop()
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.LookupTimeout <= 0 {
		o.LookupTimeout = 5 * time.Second
	}
	return &PresenceWatcher{store: store, chats: chats, clock: clock, log: log, opts: o,
		entries: make(map[int64]instanceEntries), users: make(map[string]map[int64]struct{}),
		beats: make(map[string]beat), known: make(map[int64]presence.Entry),
		pending: make(map[int64]struct{}), wake: make(chan struct{}, 1)}
}

// Start loads every live entry (before it returns, so the view answers at
// once), then follows the changes, expires silent entries every Tick and
// fans changes out to notifier (nil: keep the view only).
func (w *PresenceWatcher) Start(ctx context.Context, notifier PresenceNotifier) error {
	w.mu.Lock()
	if w.sub != nil {
		w.mu.Unlock()
		return errors.New("presence watcher started twice")
	}
	w.notifier = notifier
	w.loading = true // the initial entries are no news to anyone
	w.mu.Unlock()
	sub, err := w.store.Watch(ctx, w.onChange)
	w.mu.Lock()
	w.loading = false
	w.sub = sub
	w.mu.Unlock()
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	w.done.Add(2)
	go w.expireLoop(runCtx)
	go w.fanOutLoop(runCtx)
	return nil
}

// Stop ends the watch and waits for the loops.
func (w *PresenceWatcher) Stop() {
	w.mu.Lock()
	sub, stop := w.sub, w.stop
	w.mu.Unlock()
	if sub == nil {
		return
	}
	_ = sub.Unsubscribe()
	if stop != nil {
		stop()
	}
	w.done.Wait()
}

func (w *PresenceWatcher) onChange(c ports.PresenceChange) {
	now := w.clock.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	at := heardAt(c, now)
	if c.Beat {
		b := w.beats[c.Instance]
		if at.Before(b.at) {
			return // an older beat than one heard
		}
		nb := beat{at: at, dead: now.Sub(at) >= w.store.TTL()}
		w.beats[c.Instance] = nb
		if b.at.IsZero() || b.dead != nb.dead {
			// Its entries count again, or now by its beats (they may
			// have come in before its first beat).
			w.remergeInstanceLocked(c.Instance)
		}
		return
	}
	byInstance := w.entries[c.UserID]
	if c.Deleted {
		if !byInstance.del(c.Instance) {
			return
		}
		w.entries[c.UserID] = byInstance
		if us := w.users[c.Instance]; us != nil {
			delete(us, c.UserID)
			if len(us) == 0 {
				delete(w.users, c.Instance)
			}
		}
	} else {
		byInstance.set(c.Instance, watched{entry: c.Entry, at: at})
		w.entries[c.UserID] = byInstance
		us := w.users[c.Instance]
		if us == nil {
			us = make(map[int64]struct{})
			w.users[c.Instance] = us
		}
		us[c.UserID] = struct{}{}
		if b := w.beats[c.Instance]; b.at.IsZero() && at.After(b.seen) {
			// Not heard beating (yet): its entries count while rewritten
			// within TTL, and it is forgotten EntryTTL after the last.
			w.beats[c.Instance] = beat{seen: at}
		}
	}
	w.remergeLocked(c.UserID)
}

// remergeInstanceLocked remerges every user instance has an entry of.
func (w *PresenceWatcher) remergeInstanceLocked(instance string) {
	for userID := range w.users[instance] {
		w.remergeLocked(userID)
	}
}

// remergeLocked merges userID's entries and queues a fan-out if the
// status or platform changed.
func (w *PresenceWatcher) remergeLocked(userID int64) {
	byInstance := w.entries[userID]
	list := make([]presence.Entry, 0, len(byInstance))
	now := w.clock.Now()
	for _, e := range byInstance {
		if w.liveLocked(e.instance, e.watched, now) {
			list = append(list, e.entry)
		}
	}
	if len(byInstance) == 0 {
		delete(w.entries, userID)
	}
	merged := presence.Merge(list...)
	old, had := w.known[userID]
	if merged.Status == presence.Offline {
		if !had {
			return
		}
		// Offline keeps what was last known.
		merged.Platform = old.Platform
	}
	if old.LastSeen.After(merged.LastSeen) {
		merged.LastSeen = old.LastSeen
	}
	w.known[userID] = merged
	if had && old.Status == merged.Status && old.Platform == merged.Platform {
		return
	}
	if w.loading {
		return
	}
	w.pending[userID] = struct{}{}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Expire takes out of the merge the entries of the instances not heard
// beating within the store's TTL (the store does not announce expiry, so
// a dead instance's users go offline here), and forgets, with their
// entries, instances silent for longer than the store keeps an entry.
// Start runs it every Tick; tests with a fake clock call it directly.
func (w *PresenceWatcher) Expire() {
	now := w.clock.Now()
	ttl, entryTTL := w.store.TTL(), w.store.EntryTTL()
	w.mu.Lock()
	defer w.mu.Unlock()
	for instance, b := range w.beats {
		last := b.at
		if last.IsZero() {
			last = b.seen // never heard beating: its latest entry
		}
		silent := now.Sub(last)
		if silent >= entryTTL {
			delete(w.beats, instance)
			users := w.users[instance]
			delete(w.users, instance)
			for userID := range users {
				es := w.entries[userID]
				es.del(instance)
				w.entries[userID] = es
				w.remergeLocked(userID)
			}
			continue
		}
		if !b.at.IsZero() && !b.dead && silent >= ttl {
			w.beats[instance] = beat{at: b.at, dead: true}
			w.remergeInstanceLocked(instance)
		}
		if b.at.IsZero() {
			// An instance that does not beat: each entry not rewritten
			// within TTL stops counting, as before the beats.
			for userID := range w.users[instance] {
				es := w.entries[userID]
				if e, ok := es.get(instance); ok && !e.stale && now.Sub(e.at) >= ttl {
					e.stale = true
					es.set(instance, e) // in place: the entry is there
					w.remergeLocked(userID)
				}
			}
		}
	}
}

func (w *PresenceWatcher) expireLoop(ctx context.Context) {
	defer w.done.Done()
	t := time.NewTicker(w.opts.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Expire()
		}
	}
}

func (w *PresenceWatcher) fanOutLoop(ctx context.Context) {
	defer w.done.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		w.mu.Lock()
		users := make([]int64, 0, len(w.pending))
		for id := range w.pending {
			users = append(users, id)
		}
		clear(w.pending)
		w.mu.Unlock()
		for len(users) > 0 && ctx.Err() == nil {
			n := min(len(users), fanOutBatch)
			w.fanOut(ctx, users[:n])
			users = users[n:]
		}
	}
}

// fanOutBatch bounds the users whose chats one query looks up.
const fanOutBatch = 500

// fanOut delivers the current presence of userIDs (the latest, however
// many changes were coalesced) to the connections of their chats, which
// one query looks up for all of them: a burst of connections (a restart,
// the morning) costs a query per few hundred users, not one each.
func (w *PresenceWatcher) fanOut(ctx context.Context, userIDs []int64) {
	if w.notifier == nil {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, w.opts.LookupTimeout)
	chats, err := w.chats.MemberChatIDsOf(lctx, userIDs)
	cancel()
	if err != nil {
		w.log.Warn("presence: cannot look up the chats of users; changes not delivered",
			zap.Int("users", len(userIDs)), zap.Int64("first_user_id", userIDs[0]), zap.Error(err))
		return
	}
	for _, userID := range userIDs {
		chatIDs := chats[userID]
		if len(chatIDs) == 0 {
			continue
		}
		w.mu.Lock()
		p := query.PresenceOf(userID, w.known[userID])
		w.mu.Unlock()
		w.notifier.PresenceChanged(p, chatIDs)
	}
}

// Presence returns what the watcher knows of userIDs.
func (w *PresenceWatcher) Presence(userIDs []int64) map[int64]query.Presence {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[int64]query.Presence, len(userIDs))
	for _, id := range userIDs {
		if e, ok := w.known[id]; ok {
			out[id] = query.PresenceOf(id, e)
		}
	}
	return out
}
