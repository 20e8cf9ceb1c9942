package memory

import (
	"context"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/presence"
	"github.com/fechatter/fechatter/ports"
)

var (
	_ ports.PresenceStore      = (*PresenceStore)(nil)
	_ ports.LastSeenRepository = (*LastSeenRepository)(nil)
	_ ports.SignalPublisher    = (*EventBus)(nil)
	_ ports.SignalPublisher    = DiscardSignals{}
)

var instanceName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

type presenceKey struct {
	instance string
	userID   int64
}

type presenceRow struct {
	entry presence.Entry
	putAt time.Time
}

// PresenceStore is an in-process presence store, shared by the App
// instances of one test as the NATS bucket is by servers. Entries expire
// EntryTTL after their last put on the store's clock, silently, as in
// NATS; a watch starts with the beats younger than TTL.
type PresenceStore struct {
	clock    ports.Clock
	ttl      time.Duration
	entryTTL time.Duration

	mu       sync.Mutex
	rows     map[presenceKey]presenceRow
	beats    map[string]time.Time
	watchers map[*presenceWatch]struct{}
}

// NewPresenceStore returns an empty store whose instances live ttl after
// their last beat and whose entries live entryTTL after their last put.
func NewPresenceStore(clock ports.Clock, ttl, entryTTL time.Duration) *PresenceStore {
	if clock == nil || ttl <= 0 || entryTTL < ttl {
		panic("memory: NewPresenceStore needs a clock, a positive TTL and an entry TTL no shorter")
	}
	return &PresenceStore{clock: clock, ttl: ttl, entryTTL: entryTTL,
		rows: make(map[presenceKey]presenceRow), beats: make(map[string]time.Time), watchers: make(map[*presenceWatch]struct{})}
}

// TTL is how long an instance counts as alive after its last beat.
func (s *PresenceStore) TTL() time.Duration { return s.ttl }

// EntryTTL is how long an entry lives after its last put.
func (s *PresenceStore) EntryTTL() time.Duration { return s.entryTTL }

// Beat says instance is alive.
func (s *PresenceStore) Beat(ctx context.Context, instance string) error {
	if err := ctx.Err(); err != nil {
		return canceled(err)
	}
	if !instanceName.MatchString(instance) {
		return errs.Invalidf("presence instance must be 1..64 of [A-Za-z0-9_-]")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.beats[instance] = now
	s.announceLocked(ports.PresenceChange{Instance: instance, Beat: true, At: now})
	return nil
}

// Put writes instance's entry of userID.
func (s *PresenceStore) Put(ctx context.Context, instance string, userID int64, e presence.Entry) error {
	if err := checkPresenceKey(ctx, instance, userID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := presenceKey{instance, userID}
	now := s.clock.Now()
	s.rows[k] = presenceRow{entry: e, putAt: now}
	s.announceLocked(ports.PresenceChange{Instance: instance, UserID: userID, Entry: e, At: now})
	return nil
}

// Delete removes instance's entry of userID.
func (s *PresenceStore) Delete(ctx context.Context, instance string, userID int64) error {
	if err := checkPresenceKey(ctx, instance, userID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := presenceKey{instance, userID}
	if _, ok := s.rows[k]; !ok {
		return nil
	}
	delete(s.rows, k)
	s.announceLocked(ports.PresenceChange{Instance: instance, UserID: userID, Deleted: true})
	return nil
}

func checkPresenceKey(ctx context.Context, instance string, userID int64) error {
	if err := ctx.Err(); err != nil {
		return canceled(err)
	}
	if !instanceName.MatchString(instance) {
		return errs.Invalidf("presence instance must be 1..64 of [A-Za-z0-9_-]")
	}
	if userID <= 0 {
		return errs.Invalidf("presence user id must be positive")
	}
	return nil
}

func (s *PresenceStore) announceLocked(c ports.PresenceChange) {
	for w := range s.watchers {
		w.enqueue(c)
	}
}

// Watch calls handler with the live entries, then with every change.
func (s *PresenceStore) Watch(ctx context.Context, handler func(ports.PresenceChange)) (ports.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, canceled(err)
	}
	if handler == nil {
		return nil, errs.Invalidf("watch presence: nil handler")
	}
	w := &presenceWatch{store: s, handler: handler, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.mu.Lock()
	now := s.clock.Now()
	var live []ports.PresenceChange
	for instance, at := range s.beats {
		if now.Sub(at) < s.ttl {
			live = append(live, ports.PresenceChange{Instance: instance, Beat: true, At: at})
		}
	}
	for k, r := range s.rows {
		if now.Sub(r.putAt) >= s.entryTTL {
			delete(s.rows, k)
			continue
		}
		live = append(live, ports.PresenceChange{Instance: k.instance, UserID: k.userID, Entry: r.entry, At: r.putAt})
	}
	s.watchers[w] = struct{}{}
	s.mu.Unlock()
	sort.Slice(live, func(i, j int) bool {
		if live[i].UserID != live[j].UserID {
			return live[i].UserID < live[j].UserID
		}
		return live[i].Instance < live[j].Instance
	})
	for _, c := range live {
		handler(c)
	}
	go w.deliver()
	return w, nil
}

// presenceWatch queues changes without bound so that Put never waits for
// a slow watcher.
type presenceWatch struct {
	store   *PresenceStore
	handler func(ports.PresenceChange)

	mu     sync.Mutex
	queue  []ports.PresenceChange
	busy   bool // a change is in the handler
	closed bool
	wake   chan struct{}
	done   chan struct{}
	once   sync.Once
}

func (w *presenceWatch) enqueue(c ports.PresenceChange) {
	w.mu.Lock()
	w.queue = append(w.queue, c)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *presenceWatch) deliver() {
	for {
		select {
		case <-w.done:
			return
		case <-w.wake:
		}
		for {
			w.mu.Lock()
			if w.closed || len(w.queue) == 0 {
				w.busy = false
				w.mu.Unlock()
				break
			}
			c := w.queue[0]
			w.queue = w.queue[1:]
			w.busy = true
			w.mu.Unlock()
			w.handler(c)
		}
	}
}

func (w *presenceWatch) settled() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed || len(w.queue) == 0 && !w.busy
}

// Settle waits until every watcher has handled every change written so
// far, or ctx ends: a test that then moves a fake clock knows what the
// watchers have heard.
func (s *PresenceStore) Settle(ctx context.Context) error {
	s.mu.Lock()
	ws := make([]*presenceWatch, 0, len(s.watchers))
	for w := range s.watchers {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	for _, w := range ws {
		for !w.settled() {
			select {
			case <-ctx.Done():
				return canceled(ctx.Err())
			case <-time.After(time.Millisecond):
			}
		}
	}
	return nil
}

// Unsubscribe stops delivery; queued changes are dropped.
func (w *presenceWatch) Unsubscribe() error {
	w.once.Do(func() {
		w.store.mu.Lock()
		delete(w.store.watchers, w)
		w.store.mu.Unlock()
		w.mu.Lock()
		w.closed, w.queue = true, nil
		w.mu.Unlock()
		close(w.done)
	})
	return nil
}

// LastSeenRepository keeps last seen times in memory. Share one between
// the App instances of a test to play the database that survives them.
type LastSeenRepository struct {
	mu   sync.Mutex
	rows map[int64]ports.LastSeen
}

// NewLastSeenRepository returns an empty repository.
func NewLastSeenRepository() *LastSeenRepository {
	return &LastSeenRepository{rows: make(map[int64]ports.LastSeen)}
}

// SaveLastSeen records each user's last activity, never moving it back;
// an empty platform keeps the stored one.
func (r *LastSeenRepository) SaveLastSeen(ctx context.Context, seen []ports.LastSeen) error {
	if err := ctx.Err(); err != nil {
		return canceled(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range seen {
		if s.UserID <= 0 {
			return errs.Invalidf("last seen: user id must be positive")
		}
		old, ok := r.rows[s.UserID]
		if ok && !s.At.After(old.At) {
			continue
		}
		if s.Platform == "" {
			s.Platform = old.Platform // a REST write names no platform
		}
		s.At = s.At.UTC()
		r.rows[s.UserID] = s
	}
	return nil
}

// LastSeen returns the stored last activity of those of userIDs that have
// one.
func (r *LastSeenRepository) LastSeen(ctx context.Context, userIDs []int64) ([]ports.LastSeen, error) {
	if err := ctx.Err(); err != nil {
		return nil, canceled(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ports.LastSeen
	for _, id := range userIDs {
		if s, ok := r.rows[id]; ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// PublishSignal delivers an ephemeral event to the current subscribers of
// its chat or user, like Publish but without keeping it: Published lists
// only the events of the outbox.
func (b *EventBus) PublishSignal(ctx context.Context, e ports.Event) error {
	if err := ctx.Err(); err != nil {
		return errs.Wrap(errs.Unavailable, err, "publish signal %s", e.ID)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if s.matches(e) {
			s.enqueue(e)
		}
	}
	return nil
}

// DiscardSignals drops every signal: for an App whose tests do not listen.
type DiscardSignals struct{}

func (DiscardSignals) PublishSignal(context.Context, ports.Event) error { return nil }
