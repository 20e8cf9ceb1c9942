package command

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/presence"
	"github.com/fechatter/fechatter/ports"
)

// PresenceOptions tune LocalPresence; zero values take the defaults.
type PresenceOptions struct {
	// Instance names this server in the presence store: unique per
	// process, 1..64 of [A-Za-z0-9_-]. Required.
	Instance string
	Rules    presence.Rules
	Typing   presence.TypingRules
	// Refresh is how often the instance beats in the store (well within
	// the store's TTL), and how far a user's last activity may move
	// before their entry is rewritten with it. Default a third of the TTL.
	Refresh time.Duration
	// EntryRefresh is how often an entry that did not change is rewritten
	// all the same, well within the store's EntryTTL. Default a third of
	// it.
	EntryRefresh time.Duration
	// SaveEvery bounds the last seen writes of an active user: at most one
	// per SaveEvery, plus one once their last connection is gone. Default
	// 1 minute.
	SaveEvery time.Duration
	// Tick is how often Run sweeps (away after idle, the end of a grace,
	// refreshes, saves). Default 1 s.
	Tick time.Duration
}

// LocalPresence is this server instance's presence and typing state: the
// Presence aggregate (presence.Connections) of each user connected here,
// written to the shared presence store when its status or platform
// changes or its last activity moved by Refresh (and every EntryRefresh),
// and the instance's beat every Refresh, which keeps all its entries
// alive: a connected user who does nothing costs no write; last seen
// times saved to storage;
// and who is typing where. The presence commands change it in memory and
// never wait for the presence store or the database (a NATS outage does
// not slow a message.send down); Run writes the changes at once and moves
// everything along with the clock.
type LocalPresence struct {
	store    ports.PresenceStore
	lastSeen ports.LastSeenRepository
	signals  ports.SignalPublisher
	clock    ports.Clock
	log      *zap.Logger
	opts     PresenceOptions

	mu    sync.Mutex
	users map[int64]*localUser
	dirty map[int64]*localUser // changed, waiting for Publish
	wake  chan struct{}        // a user became dirty
	// beatAt is when the store last took the instance's beat; beatLost,
	// that a beat failed since: once one passes again, every entry is
	// rewritten (the store may have lost them).
	beatAt   time.Time
	beatLost bool

	typingMu sync.Mutex
	typing   map[typingKey]*presence.Typing
}

// localUser is one user's aggregate and what the store and the database
// were last told of it. mu orders the writes of one user.
type localUser struct {
	mu        sync.Mutex
	conns     *presence.Connections
	removed   bool // taken out of LocalPresence.users: look it up again
	stored    bool // the store holds an entry of this instance
	published presence.Entry
	putAt     time.Time
	dirty     bool // changed since the last write, or the write failed
	hadConns  bool // save last seen when the last connection is gone
	savedSeen time.Time
	savedAt   time.Time
	// due is when a sweep must next look at the user (zero: the next
	// sweep): the earliest of a change without input (turning away, the
	// end of the grace), an entry refresh, a last seen save. Input resets
	// it. Sweeps skip a user not due, so idle users cost nothing.
	due time.Time
}

type typingKey struct{ chatID, userID int64 }

// NewLocalPresence builds the instance's presence state. It panics on a
// missing dependency or instance name: a wiring bug.
func NewLocalPresence(store ports.PresenceStore, lastSeen ports.LastSeenRepository, signals ports.SignalPublisher,
	clock ports.Clock, log *zap.Logger, o PresenceOptions) *LocalPresence {
	mustHave(map[string]any{"store": store, "lastSeen": lastSeen, "signals": signals, "clock": clock})
	if o.Instance == "" {
		panic("command: NewLocalPresence needs an instance name")
	}
	o.Rules = o.Rules.WithDefaults()
	o.Typing = o.Typing.WithDefaults()
	if o.Refresh <= 0 {
		o.Refresh = store.TTL() / 3
	}
	if o.EntryRefresh <= 0 {
		o.EntryRefresh = store.EntryTTL() / 3
	}
	if o.SaveEvery <= 0 {
		o.SaveEvery = time.Minute
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &LocalPresence{store: store, lastSeen: lastSeen, signals: signals, clock: clock, log: log, opts: o,
		users: make(map[int64]*localUser), dirty: make(map[int64]*localUser), wake: make(chan struct{}, 1),
		typing: make(map[typingKey]*presence.Typing)}
}

// Instance is this server's name in the presence store.
func (p *LocalPresence) Instance() string { return p.opts.Instance }

// Rules are the presence timings in force.
func (p *LocalPresence) Rules() presence.Rules { return p.opts.Rules }

// lock returns userID's record locked, creating it if create; nil if it
// does not exist and create is false.
func (p *LocalPresence) lock(userID int64, create bool) (*localUser, error) {
	for {
		p.mu.Lock()
		u := p.users[userID]
		if u == nil {
			if !create {
				p.mu.Unlock()
				return nil, nil
			}
			conns, err := presence.NewConnections(userID)
			if err != nil {
				p.mu.Unlock()
				return nil, err
			}
			u = &localUser{conns: conns}
			p.users[userID] = u
		}
		p.mu.Unlock()
		u.mu.Lock()
		if !u.removed {
			return u, nil
		}
		u.mu.Unlock() // a sweep forgot it meanwhile
	}
}

// changedLocked queues u for Publish if its status or platform differs
// from what the store was told: the commands never wait for the store.
func (p *LocalPresence) changedLocked(u *localUser, now time.Time) {
	e := u.conns.State(now, p.opts.Rules)
	if e.Status == presence.Offline || u.stored && !u.dirty && e.Status == u.published.Status && e.Platform == u.published.Platform {
		return
	}
	u.dirty = true
	p.mu.Lock()
	p.dirty[u.conns.UserID()] = u
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// publishLocked writes u's entry to the store if its status or platform
// changed since the last write, its last activity moved by Refresh, or
// force. A failed write is retried by the next sweep.
func (p *LocalPresence) publishLocked(ctx context.Context, u *localUser, now time.Time, force bool) error {
	e := u.conns.State(now, p.opts.Rules)
	if e.Status == presence.Offline {
		return nil // the sweep deletes the entry once the grace is over
	}
	if u.stored && !u.dirty && !force && e.Status == u.published.Status && e.Platform == u.published.Platform &&
		e.LastSeen.Sub(u.published.LastSeen) < p.opts.Refresh {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := p.store.Put(wctx, p.opts.Instance, u.conns.UserID(), e); err != nil {
		u.dirty = true
		return err
	}
	u.stored, u.dirty, u.published, u.putAt = true, false, e, now
	return nil
}

func (p *LocalPresence) connect(ctx context.Context, a Actor, connID, platform string) error {
	u, err := p.lock(a.UserID, true)
	if err != nil {
		return err
	}
	defer u.mu.Unlock()
	now := p.clock.Now()
	if err := u.conns.Connect(connID, platform, now); err != nil {
		return err
	}
	u.due = time.Time{}
	u.hadConns = true
	p.changedLocked(u, now)
	return nil
}

func (p *LocalPresence) disconnect(ctx context.Context, a Actor, connID string) error {
	u, err := p.lock(a.UserID, false)
	if err != nil || u == nil {
		return err
	}
	now := p.clock.Now()
	last := u.conns.Disconnect(connID, now)
	u.due = time.Time{}
	p.changedLocked(u, now)
	u.mu.Unlock()
	if last {
		// Typing stops with the user's last connection here, at once;
		// presence waits for the grace.
		return p.stopAllTyping(ctx, a)
	}
	return nil
}

// touch records activity; with status, the client's declared status.
func (p *LocalPresence) touch(ctx context.Context, a Actor, connID string, status presence.Status) error {
	// A REST write (no connection) moves last seen even without a
	// connection here; activity on a connection never creates a record.
	u, err := p.lock(a.UserID, connID == "")
	if err != nil || u == nil {
		return err
	}
	defer u.mu.Unlock()
	now := p.clock.Now()
	if status != "" {
		if err := u.conns.Declare(connID, status, now); err != nil {
			return err
		}
	} else {
		u.conns.Touch(connID, now)
	}
	u.due = time.Time{}
	p.changedLocked(u, now)
	return nil
}

// Publish writes the entries the commands changed to the store. Run calls
// it as soon as a command changed one; Sweep includes it.
func (p *LocalPresence) Publish(ctx context.Context) error {
	p.mu.Lock()
	beaten := !p.beatAt.IsZero()
	p.mu.Unlock()
	if !beaten {
		// The instance's first beat goes before its first entry, which
		// the watchers would not count until it came.
		if err := p.beat(ctx, p.clock.Now(), true); err != nil {
			return err
		}
	}
	p.mu.Lock()
	users := make([]*localUser, 0, len(p.dirty))
	for _, u := range p.dirty {
		users = append(users, u)
	}
	clear(p.dirty)
	p.mu.Unlock()
	now := p.clock.Now()
	for i, u := range users {
		u.mu.Lock()
		var err error
		if !u.removed {
			err = p.publishLocked(ctx, u, now, false)
		}
		u.mu.Unlock()
		if err != nil {
			// The store is down: the sweeps retry the rest (they are
			// marked dirty) rather than each waiting for a timeout here.
			for _, rest := range users[i+1:] {
				rest.mu.Lock()
				rest.dirty = true
				rest.mu.Unlock()
			}
			return err
		}
	}
	return nil
}

// Sweep moves every local user along with the clock: writes the entries
// whose status changed without input (away after idle), or that are due a
// refresh or a retry; deletes those whose grace is over; saves last seen
// times that are due; forgets expired typing. Run calls it every Tick;
// tests with a fake clock call it directly.
func (p *LocalPresence) Sweep(ctx context.Context) error {
	now := p.clock.Now()
	var errList []error
	storeUp := true // after a failed write, leave the store alone until the next sweep
	reput := false
	if err := p.beat(ctx, now, false); err != nil {
		errList, storeUp = append(errList, err), false
	} else {
		p.mu.Lock()
		reput, p.beatLost = p.beatLost, false
		p.mu.Unlock()
	}
	p.mu.Lock()
	users := make([]*localUser, 0, len(p.users))
	for _, u := range p.users {
		users = append(users, u)
	}
	p.mu.Unlock()

	var save []ports.LastSeen
	var saving []*localUser
	for _, u := range users {
		u.mu.Lock()
		if u.removed || !reput && storeUp && now.Before(u.due) {
			u.mu.Unlock()
			continue
		}
		gone := u.conns.Gone(now, p.opts.Rules)
		switch {
		case !storeUp:
		case gone && u.stored:
			wctx, cancel := context.WithTimeout(ctx, storeTimeout)
			err := p.store.Delete(wctx, p.opts.Instance, u.conns.UserID())
			cancel()
			if err != nil {
				errList, storeUp = append(errList, err), false
			} else {
				u.stored, u.dirty, u.published = false, false, presence.Entry{}
			}
		case !gone:
			if err := p.publishLocked(ctx, u, now, reput || now.Sub(u.putAt) >= p.opts.EntryRefresh); err != nil {
				errList, storeUp = append(errList, err), false
			}
		}
		seen := u.conns.LastSeen()
		final := gone && u.hadConns
		if seen.After(u.savedSeen) && (final || now.Sub(u.savedAt) >= p.opts.SaveEvery) {
			save = append(save, ports.LastSeen{UserID: u.conns.UserID(), At: seen, Platform: u.conns.Platform()})
			saving = append(saving, u)
		} else if gone && !u.stored && !seen.After(u.savedSeen) && now.Sub(u.savedAt) >= p.opts.SaveEvery {
			// Nothing left to write, and the save throttle no longer
			// needs the record.
			u.removed = true
			p.mu.Lock()
			delete(p.users, u.conns.UserID())
			p.mu.Unlock()
		}
		u.due = p.dueLocked(u, now, storeUp, len(saving) > 0 && saving[len(saving)-1] == u)
		u.mu.Unlock()
	}
	if reput && !storeUp {
		// The rewrite of every entry was cut short: the next sweep that
		// reaches the store rewrites them all again.
		p.mu.Lock()
		p.beatLost = true
		p.mu.Unlock()
	}
	if len(save) > 0 {
		sctx, cancel := context.WithTimeout(ctx, saveTimeout)
		err := p.lastSeen.SaveLastSeen(sctx, save)
		cancel()
		if err != nil {
			errList = append(errList, err)
		} else {
			p.markSaved(saving, save, now)
		}
	}
	p.sweepTyping(now)
	return errors.Join(errList...)
}

// dueLocked is when a sweep must next look at u, after one did at now:
// the next sweep if a write failed or is pending (the store was down, a
// save is in flight), else the earliest of u's next change without input,
// its entry's refresh and its last seen save.
func (p *LocalPresence) dueLocked(u *localUser, now time.Time, storeUp, saving bool) time.Time {
	if !storeUp || u.dirty || saving || u.removed {
		return time.Time{}
	}
	due := u.conns.NextChange(now, p.opts.Rules)
	soonest := func(t time.Time) {
		if due.IsZero() || t.Before(due) {
			due = t
		}
	}
	if u.stored {
		soonest(u.putAt.Add(p.opts.EntryRefresh))
	}
	if u.conns.LastSeen().After(u.savedSeen) || u.conns.Gone(now, p.opts.Rules) {
		soonest(u.savedAt.Add(p.opts.SaveEvery)) // a save, or forgetting the record
	}
	if due.IsZero() {
		// Nothing pending at all (an away user's entry stored, saved):
		// look again at the entry refresh at the latest.
		due = now.Add(p.opts.EntryRefresh)
	}
	return due
}

// beat writes the instance's beat if one is due (or always, with force).
// A failure is remembered: the sweep that next beats rewrites every entry.
func (p *LocalPresence) beat(ctx context.Context, now time.Time, force bool) error {
	p.mu.Lock()
	due := force || p.beatLost || p.beatAt.IsZero() || now.Sub(p.beatAt) >= p.opts.Refresh
	p.mu.Unlock()
	if !due {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, storeTimeout)
	err := p.store.Beat(wctx, p.opts.Instance)
	cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if !p.beatAt.IsZero() {
			p.beatLost = true
		}
		return err
	}
	p.beatAt = now
	return nil
}

// Run beats at once, then sweeps every Tick until ctx ends, then saves every last seen time
// not saved yet (bounded by flushTimeout), so that it survives the
// restart. Entries in the store are left to expire: users whose clients
// reconnect to another instance within the TTL do not flap offline.
func (p *LocalPresence) Run(ctx context.Context) error {
	if err := p.beat(ctx, p.clock.Now(), true); err != nil && ctx.Err() == nil {
		p.log.Warn("presence: first beat not written; the sweeps retry", zap.Error(err))
	}
	// The beats have a loop of their own: a sweep held up by a slow
	// store or database must not make the other instances take this one
	// for dead.
	beats := make(chan struct{})
	go func() {
		defer close(beats)
		t := time.NewTicker(p.opts.Tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := p.beat(ctx, p.clock.Now(), false); err != nil && ctx.Err() == nil {
					p.log.Warn("presence: beat not written; retrying", zap.Error(err))
				}
			}
		}
	}()
	defer func() { <-beats }()
	t := time.NewTicker(p.opts.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
			defer cancel()
			if err := p.Flush(fctx); err != nil {
				p.log.Warn("presence: last seen times not saved at shutdown", zap.Error(err))
			}
			return nil
		case <-t.C:
			if err := p.Sweep(ctx); err != nil && ctx.Err() == nil {
				p.log.Warn("presence sweep", zap.Error(err))
			}
		case <-p.wake:
			if err := p.Publish(ctx); err != nil && ctx.Err() == nil {
				p.log.Warn("presence: entries not written; the next sweep retries", zap.Error(err))
			}
		}
	}
}

// saveTimeout bounds a sweep's save of last seen times, so that a database
// that hangs cannot hold the sweeps (and the beats with them) for long.
const saveTimeout = 5 * time.Second

// flushTimeout bounds the last save of Run.
const flushTimeout = 5 * time.Second

// storeTimeout bounds one write to the presence store, so that a sweep
// during a NATS outage gives up quickly.
const storeTimeout = 2 * time.Second

// Flush saves every last seen time not saved yet.
func (p *LocalPresence) Flush(ctx context.Context) error {
	p.mu.Lock()
	users := make([]*localUser, 0, len(p.users))
	for _, u := range p.users {
		users = append(users, u)
	}
	p.mu.Unlock()
	var save []ports.LastSeen
	var saving []*localUser
	for _, u := range users {
		u.mu.Lock()
		if seen := u.conns.LastSeen(); seen.After(u.savedSeen) {
			save = append(save, ports.LastSeen{UserID: u.conns.UserID(), At: seen, Platform: u.conns.Platform()})
			saving = append(saving, u)
		}
		u.mu.Unlock()
	}
	if len(save) == 0 {
		return nil
	}
	if err := p.lastSeen.SaveLastSeen(ctx, save); err != nil {
		return err
	}
	p.markSaved(saving, save, p.clock.Now())
	return nil
}

// markSaved records that save (one row per user of saving) is stored.
func (p *LocalPresence) markSaved(saving []*localUser, save []ports.LastSeen, now time.Time) {
	for i, u := range saving {
		u.mu.Lock()
		if save[i].At.After(u.savedSeen) {
			u.savedSeen = save[i].At
		}
		u.savedAt = now
		if u.conns.Gone(now, p.opts.Rules) {
			u.hadConns = false
		}
		u.mu.Unlock()
	}
}

// Typing.

// typingThrottled reports whether a start now would be a repeat that is
// not broadcast: then it needs no membership check either.
func (p *LocalPresence) typingThrottled(k typingKey, now time.Time) bool {
	p.typingMu.Lock()
	defer p.typingMu.Unlock()
	t := p.typing[k]
	if t == nil {
		return false
	}
	probe := *t
	broadcast, _ := probe.Start(now, p.opts.Typing)
	return !broadcast
}

// setTyping applies a start or a stop and broadcasts it when the rules
// say so. The decision and the publish happen under one lock so that the
// broadcasts of one user in one chat go out in the order decided.
func (p *LocalPresence) setTyping(ctx context.Context, a Actor, chatID int64, isTyping bool) error {
	k := typingKey{chatID, a.UserID}
	now := p.clock.Now()
	p.typingMu.Lock()
	defer p.typingMu.Unlock()
	t := p.typing[k]
	if t == nil {
		if !isTyping {
			return nil
		}
		t = &presence.Typing{}
		p.typing[k] = t
	}
	var broadcast bool
	expires := now
	if isTyping {
		broadcast, expires = t.Start(now, p.opts.Typing)
	} else {
		broadcast = t.Stop(now)
		delete(p.typing, k)
	}
	if !broadcast {
		return nil
	}
	err := p.publishTyping(ctx, a.WorkspaceID, TypingEvent{ChatID: chatID, UserID: a.UserID, IsTyping: isTyping, ExpiresAt: expires}, now)
	if err != nil && isTyping {
		delete(p.typing, k) // not told: the next start is broadcast
	}
	return err
}

func (p *LocalPresence) publishTyping(ctx context.Context, workspaceID int64, te TypingEvent, now time.Time) error {
	te.ExpiresAt = te.ExpiresAt.UTC()
	data, err := json.Marshal(te)
	if err != nil {
		return err
	}
	return p.signals.PublishSignal(ctx, ports.Event{ID: uuid.NewString(), Type: ports.EventTyping, Version: ports.EventVersion,
		OccurredAt: now.UTC(), WorkspaceID: workspaceID, ChatID: te.ChatID, Data: data})
}

// stopAllTyping stops the user's typing in every chat.
func (p *LocalPresence) stopAllTyping(ctx context.Context, a Actor) error {
	p.typingMu.Lock()
	var chats []int64
	for k := range p.typing {
		if k.userID == a.UserID {
			chats = append(chats, k.chatID)
		}
	}
	p.typingMu.Unlock()
	var errList []error
	for _, id := range chats {
		errList = append(errList, p.setTyping(ctx, a, id, false))
	}
	return errors.Join(errList...)
}

func (p *LocalPresence) sweepTyping(now time.Time) {
	p.typingMu.Lock()
	defer p.typingMu.Unlock()
	for k, t := range p.typing {
		if !t.Active(now) {
			delete(p.typing, k)
		}
	}
}

// Commands.

// mustHavePresence panics on a nil LocalPresence, which mustHave misses
// (a nil pointer in an interface is not nil).
func mustHavePresence(p *LocalPresence) {
	if p == nil {
		panic("command: nil dependency presence (a *LocalPresence)")
	}
}

// ConnectPresence records a new connection of the caller: opening one is
// activity.
type ConnectPresence struct {
	Actor    Actor
	ConnID   string // unique among this instance's connections
	Platform string
}

// ConnectPresenceHandler handles ConnectPresence.
type ConnectPresenceHandler struct{ p *LocalPresence }

// NewConnectPresenceHandler builds the handler.
func NewConnectPresenceHandler(p *LocalPresence) ConnectPresenceHandler {
	mustHavePresence(p)
	return ConnectPresenceHandler{p: p}
}

// Handle records the connection: Invalid or Conflict for a bad or reused
// connection id. The shared store is told in the background (Run).
func (h ConnectPresenceHandler) Handle(ctx context.Context, cmd ConnectPresence) error {
	return h.p.connect(ctx, cmd.Actor, cmd.ConnID, cmd.Platform)
}

// DisconnectPresence records that a connection of the caller closed.
type DisconnectPresence struct {
	Actor  Actor
	ConnID string
}

// DisconnectPresenceHandler handles DisconnectPresence.
type DisconnectPresenceHandler struct{ p *LocalPresence }

// NewDisconnectPresenceHandler builds the handler.
func NewDisconnectPresenceHandler(p *LocalPresence) DisconnectPresenceHandler {
	mustHavePresence(p)
	return DisconnectPresenceHandler{p: p}
}

// Handle forgets the connection. With the user's last connection here,
// their typing stops at once; they go offline once the grace is over
// (unless they reconnect).
func (h DisconnectPresenceHandler) Handle(ctx context.Context, cmd DisconnectPresence) error {
	return h.p.disconnect(ctx, cmd.Actor, cmd.ConnID)
}

// TouchPresence records activity of the caller: on connection ConnID, or
// with no ConnID a REST write. Status, if set ("online" or "away"), is
// what the client declares for that connection (the presence frame).
type TouchPresence struct {
	Actor  Actor
	ConnID string
	Status string
}

// TouchPresenceHandler handles TouchPresence.
type TouchPresenceHandler struct{ p *LocalPresence }

// NewTouchPresenceHandler builds the handler.
func NewTouchPresenceHandler(p *LocalPresence) TouchPresenceHandler {
	mustHavePresence(p)
	return TouchPresenceHandler{p: p}
}

// Handle records the activity; Invalid for a bad status.
func (h TouchPresenceHandler) Handle(ctx context.Context, cmd TouchPresence) error {
	var s presence.Status
	if cmd.Status != "" {
		var err error
		if s, err = presence.ParseDeclared(cmd.Status); err != nil {
			return err
		}
		if cmd.ConnID == "" {
			return errs.Invalidf("a status is declared for a connection")
		}
	}
	return h.p.touch(ctx, cmd.Actor, cmd.ConnID, s)
}
