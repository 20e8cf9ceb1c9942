package application_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/presence"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

var presenceT0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// presenceNotes records what a presence watcher hands to the gateway.
type presenceNotes struct {
	mu    sync.Mutex
	notes []presenceNote
}

type presenceNote struct {
	p     query.Presence
	chats []int64
}

func (n *presenceNotes) PresenceChanged(p query.Presence, chatIDs []int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notes = append(n.notes, presenceNote{p, slices.Clone(chatIDs)})
}

func (n *presenceNotes) of(userID int64) []presenceNote {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []presenceNote
	for _, x := range n.notes {
		if x.p.UserID == userID {
			out = append(out, x)
		}
	}
	return out
}

// waitUntil polls cond: the memory presence store delivers to watchers on
// a goroutine of its own.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	porttest.Eventually(t, 10*time.Second, what, cond)
}

type presenceEnv struct {
	t     *testing.T
	mem   memapp.Env
	clock *memory.FakeClock
	notes *presenceNotes
	bus   *memory.EventBus
}

// presenceRules: away after 5 idle minutes (API.md), offline 25 s (one
// heartbeat) after the last connection closed.
var presenceRules = presence.Rules{AwayAfter: 5 * time.Minute, Grace: 25 * time.Second}

func newPresenceEnv(t *testing.T, o memapp.Options) *presenceEnv {
	t.Helper()
	clock, ok := o.Clock.(*memory.FakeClock)
	if !ok {
		clock = memory.NewFakeClock(presenceT0)
		o.Clock = clock
	}
	bus := memory.NewEventBus()
	if o.Signals == nil {
		o.Signals = bus
	}
	o.Presence.Rules = presenceRules
	mem := memapp.New(o)
	notes := &presenceNotes{}
	if err := mem.PresenceWatcher.Start(context.Background(), notes); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mem.PresenceWatcher.Stop)
	return &presenceEnv{t: t, mem: mem, clock: clock, notes: notes, bus: bus}
}

func (e *presenceEnv) signUp(workspace string, invite string) command.Actor {
	e.t.Helper()
	res, err := e.mem.App.Commands.SignUp.Handle(context.Background(), command.SignUp{Email: porttest.Unique("p") + "@example.com",
		Password: "correct horse battery", Fullname: "P", Workspace: workspace, InviteCode: invite})
	if err != nil {
		e.t.Fatal(err)
	}
	return command.Actor{UserID: res.User.ID, WorkspaceID: res.User.WorkspaceID}
}

// users signs up n users of one new workspace.
func (e *presenceEnv) users(n int) []command.Actor {
	e.t.Helper()
	name := porttest.Unique("ws-")
	first := e.signUp(name, "")
	out := []command.Actor{first}
	if n > 1 {
		uses := n - 1
		inv, err := e.mem.App.Commands.CreateInvite.Handle(context.Background(), command.CreateInvite{Actor: first, MaxUses: &uses})
		if err != nil {
			e.t.Fatal(err)
		}
		for range n - 1 {
			out = append(out, e.signUp(name, inv.Code))
		}
	}
	return out
}

func (e *presenceEnv) group(owner command.Actor, members ...command.Actor) int64 {
	e.t.Helper()
	ids := make([]int64, len(members))
	for i, m := range members {
		ids[i] = m.UserID
	}
	c, _, err := e.mem.App.Commands.CreateChat.Handle(context.Background(), command.CreateChat{Actor: owner, Type: "group",
		Name: porttest.Unique("g-"), MemberIDs: ids})
	if err != nil {
		e.t.Fatal(err)
	}
	return c.ID
}

func (e *presenceEnv) connect(a command.Actor, conn, platform string) {
	e.t.Helper()
	if err := e.mem.App.Commands.ConnectPresence.Handle(context.Background(), command.ConnectPresence{Actor: a, ConnID: conn, Platform: platform}); err != nil {
		e.t.Fatalf("connect %s: %v", conn, err)
	}
	e.publish()
}

// publish writes what the commands changed, as Run does at once.
func (e *presenceEnv) publish() {
	e.t.Helper()
	if err := e.mem.Presence.Publish(context.Background()); err != nil {
		e.t.Fatalf("publish: %v", err)
	}
}

func (e *presenceEnv) disconnect(a command.Actor, conn string) {
	e.t.Helper()
	if err := e.mem.App.Commands.DisconnectPresence.Handle(context.Background(), command.DisconnectPresence{Actor: a, ConnID: conn}); err != nil {
		e.t.Fatalf("disconnect %s: %v", conn, err)
	}
	e.publish()
}

func (e *presenceEnv) touch(a command.Actor, conn, status string) {
	e.t.Helper()
	if err := e.mem.App.Commands.TouchPresence.Handle(context.Background(), command.TouchPresence{Actor: a, ConnID: conn, Status: status}); err != nil {
		e.t.Fatalf("touch %s: %v", conn, err)
	}
	e.publish()
}

func (e *presenceEnv) sweep() {
	e.t.Helper()
	if err := e.mem.Presence.Sweep(context.Background()); err != nil {
		e.t.Fatalf("sweep: %v", err)
	}
	e.settle()
	e.mem.PresenceWatcher.Expire() // as its loop does every tick
}

// settle waits until the watchers heard every write to the store (the
// memory store delivers on a goroutine of its own), as they would within
// a tick of the real clock.
func (e *presenceEnv) settle() {
	e.t.Helper()
	store, ok := e.mem.PresenceStore.(*memory.PresenceStore)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := store.Settle(ctx); err != nil {
		e.t.Fatalf("presence watchers did not settle: %v", err)
	}
}

func (e *presenceEnv) get(asker command.Actor, ids ...int64) []query.Presence {
	e.t.Helper()
	ps, err := e.mem.App.Queries.GetPresence.Handle(context.Background(), query.Viewer{UserID: asker.UserID, WorkspaceID: asker.WorkspaceID}, ids)
	if err != nil {
		e.t.Fatalf("get presence: %v", err)
	}
	return ps
}

// waitStatus waits until asker sees user with status, and returns it.
func (e *presenceEnv) waitStatus(asker, user command.Actor, status presence.Status) query.Presence {
	e.t.Helper()
	var got query.Presence
	waitUntil(e.t, fmt.Sprintf("user %d %s", user.UserID, status), func() bool {
		got = e.get(asker, user.UserID)[0]
		return got.Status == string(status)
	})
	return got
}

// waitNote waits for the n-th presence change of user handed to the
// gateway and returns it.
func (e *presenceEnv) waitNote(user command.Actor, n int) presenceNote {
	e.t.Helper()
	waitUntil(e.t, fmt.Sprintf("presence change #%d of user %d", n, user.UserID), func() bool { return len(e.notes.of(user.UserID)) >= n })
	return e.notes.of(user.UserID)[n-1]
}

func sameTimePtr(p *time.Time, want time.Time) bool { return p != nil && p.Equal(want) }

// Online, away after 5 idle minutes, online on activity, offline only a
// grace after the last of two devices disconnects; last seen is the last
// activity, and survives a restart of the presence service.
func TestPresenceLifecycle(t *testing.T) {
	t.Parallel()
	e := newPresenceEnv(t, memapp.Options{})
	us := e.users(3)
	alice, bob, carol := us[0], us[1], us[2]
	chat := e.group(alice, bob)

	if p := e.get(bob, alice.UserID)[0]; p.Status != "offline" || p.LastSeen != nil || p.Platform != "" {
		t.Fatalf("never connected: %+v, want offline with last_seen null", p)
	}

	e.connect(alice, "web-1", "web")
	p := e.waitStatus(bob, alice, presence.Online)
	if !sameTimePtr(p.LastSeen, presenceT0) || p.Platform != "web" {
		t.Fatalf("after connect: %+v", p)
	}
	note := e.waitNote(alice, 1)
	if note.p.Status != "online" || !slices.Contains(note.chats, chat) {
		t.Fatalf("first change %+v, want online to chat %d", note, chat)
	}

	e.clock.Advance(time.Minute)
	e.connect(alice, "ios-1", "ios") // a second device: same status, new platform
	e.sweep()
	if n := e.waitNote(alice, 2); n.p.Status != "online" || n.p.Platform != "ios" {
		t.Fatalf("second change %+v, want online from ios", n.p)
	}

	// Nothing done for 5 minutes on either device: away.
	e.clock.Advance(5*time.Minute - time.Second)
	e.sweep()
	if got := e.get(bob, alice.UserID)[0].Status; got != "online" {
		t.Fatalf("4:59 after the last activity: %s, want online", got)
	}
	e.clock.Advance(time.Second)
	e.sweep()
	e.waitStatus(bob, alice, presence.Away)
	if n := e.waitNote(alice, 3); n.p.Status != "away" {
		t.Fatalf("third change %+v, want away", n.p)
	}

	// Activity on one device: online again.
	e.clock.Advance(time.Minute)
	lastActivity := e.clock.Now()
	e.touch(alice, "ios-1", "")
	p = e.waitStatus(bob, alice, presence.Online)
	if p.Platform != "ios" {
		t.Fatalf("online again from %q, want ios", p.Platform)
	}
	if n := e.waitNote(alice, 4); n.p.Status != "online" {
		t.Fatalf("fourth change %+v, want online", n.p)
	}

	// One device goes, the other stays: still online. The last goes:
	// online through the grace, then offline.
	e.clock.Advance(time.Second)
	e.disconnect(alice, "web-1")
	e.sweep()
	e.clock.Advance(time.Second)
	e.disconnect(alice, "ios-1")
	e.sweep()
	e.clock.Advance(24 * time.Second)
	e.sweep()
	if got := e.get(bob, alice.UserID)[0].Status; got != "online" {
		t.Fatalf("within the grace: %s, want online", got)
	}
	e.clock.Advance(time.Second)
	e.sweep()
	p = e.waitStatus(bob, alice, presence.Offline)
	if !sameTimePtr(p.LastSeen, lastActivity) || p.Platform != "ios" {
		t.Fatalf("offline: %+v, want last_seen %s from ios", p, lastActivity)
	}
	if n := e.waitNote(alice, 5); n.p.Status != "offline" || !sameTimePtr(n.p.LastSeen, lastActivity) {
		t.Fatalf("fifth change %+v, want offline with the last activity", n.p)
	}
	if n := len(e.notes.of(alice.UserID)); n != 5 {
		t.Fatalf("%d changes, want 5 (online, ios, away, online, offline): no change is pushed for mere activity", n)
	}
	// Carol shares no chat with alice: she may ask (same workspace), but
	// nothing was pushed to a chat of hers.
	for _, n := range e.notes.of(alice.UserID) {
		if !slices.Equal(n.chats, []int64{chat}) {
			t.Fatalf("change went to chats %v, want only %d", n.chats, chat)
		}
	}
	if ps := e.get(carol, alice.UserID); len(ps) != 1 || ps[0].Status != "offline" {
		t.Fatalf("carol asking: %+v", ps)
	}

	// A restart: a new presence service (new store, new watcher) on the
	// same database knows alice's last seen.
	restarted := newPresenceEnv(t, memapp.Options{Clock: e.clock, Store: e.mem.Store, LastSeen: e.mem.LastSeen,
		Presence: command.PresenceOptions{Instance: "restarted"}})
	p = restarted.get(bob, alice.UserID)[0]
	if p.Status != "offline" || !sameTimePtr(p.LastSeen, lastActivity) || p.Platform != "ios" {
		t.Fatalf("after a restart: %+v, want offline, last_seen %s, ios", p, lastActivity)
	}
}

// last_seen is written at most once a minute per active user, and when the
// last connection is gone.
func TestPresenceLastSeenWritesAreThrottled(t *testing.T) {
	t.Parallel()
	e := newPresenceEnv(t, memapp.Options{})
	alice := e.users(1)[0]
	stored := func() (time.Time, bool) {
		rows, err := e.mem.LastSeen.LastSeen(context.Background(), []int64{alice.UserID})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			return time.Time{}, false
		}
		return rows[0].At, true
	}
	e.connect(alice, "c", "web")
	e.sweep()
	if at, ok := stored(); !ok || !at.Equal(presenceT0) {
		t.Fatalf("first save: %v %v", at, ok)
	}
	for range 5 {
		e.clock.Advance(10 * time.Second)
		e.touch(alice, "c", "")
		e.sweep()
	}
	if at, _ := stored(); !at.Equal(presenceT0) {
		t.Fatalf("saved %s within a minute of the last save", at)
	}
	e.clock.Advance(10 * time.Second) // a minute since the first save
	e.touch(alice, "c", "")
	e.sweep()
	if at, _ := stored(); !at.Equal(presenceT0.Add(time.Minute)) {
		t.Fatalf("after a minute: %s, want t0+1m", at)
	}
	e.clock.Advance(time.Second)
	e.touch(alice, "c", "")
	e.disconnect(alice, "c")
	e.sweep()
	if at, _ := stored(); !at.Equal(presenceT0.Add(time.Minute)) {
		t.Fatalf("saved during the grace: %s", at)
	}
	e.clock.Advance(25 * time.Second)
	e.sweep()
	if at, _ := stored(); !at.Equal(presenceT0.Add(61 * time.Second)) {
		t.Fatalf("after the last connection went: %s, want the last activity", at)
	}

	// A REST write without a connection moves last seen, throttled too.
	e.clock.Advance(time.Minute)
	e.touch(alice, "", "")
	e.sweep()
	want := e.clock.Now()
	if at, _ := stored(); !at.Equal(want) {
		t.Fatalf("after a REST write: %s, want %s", at, want)
	}
	e.clock.Advance(time.Second)
	e.touch(alice, "", "")
	e.sweep()
	if at, _ := stored(); !at.Equal(want) {
		t.Fatalf("a second REST write within a minute was saved: %s", at)
	}
}

// A presence frame declares away; declaring online comes back.
func TestPresenceDeclaredStatus(t *testing.T) {
	t.Parallel()
	e := newPresenceEnv(t, memapp.Options{})
	us := e.users(2)
	alice, bob := us[0], us[1]
	e.connect(alice, "c", "web")
	e.waitStatus(bob, alice, presence.Online)
	e.touch(alice, "c", "away")
	e.waitStatus(bob, alice, presence.Away)
	e.touch(alice, "c", "online")
	e.waitStatus(bob, alice, presence.Online)
	for _, bad := range []command.TouchPresence{
		{Actor: alice, ConnID: "c", Status: "offline"},
		{Actor: alice, ConnID: "c", Status: "busy"},
		{Actor: alice, Status: "away"}, // a status needs a connection
	} {
		if err := e.mem.App.Commands.TouchPresence.Handle(context.Background(), bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("%+v: err = %v, want invalid", bad, err)
		}
	}
	if err := e.mem.App.Commands.ConnectPresence.Handle(context.Background(), command.ConnectPresence{Actor: alice, ConnID: "c", Platform: "web"}); !errs.Is(err, errs.Conflict) {
		t.Errorf("connecting an open connection again: %v, want conflict", err)
	}
}

// Two instances share the presence store: a user on A is seen from B; when
// A dies (stops beating), its users go offline on B once the TTL passes
// after its last beat, although their entries are still in the store.
func TestPresenceAcrossInstancesAndADeadInstance(t *testing.T) {
	t.Parallel()
	clock := memory.NewFakeClock(presenceT0)
	kv := memory.NewPresenceStore(clock, 75*time.Second, 2*time.Hour)
	a := newPresenceEnv(t, memapp.Options{Clock: clock, PresenceStore: kv, Presence: command.PresenceOptions{Instance: "a"}})
	b := newPresenceEnv(t, memapp.Options{Clock: clock, PresenceStore: kv, Store: a.mem.Store, LastSeen: a.mem.LastSeen,
		Presence: command.PresenceOptions{Instance: "b"}})
	us := a.users(2)
	alice, bob := us[0], us[1]
	a.group(alice, bob)

	a.connect(alice, "phone", "android")
	b.waitStatus(bob, alice, presence.Online)
	// B hears of it through its own watcher and pushes it to its clients.
	if n := b.waitNote(alice, 1); n.p.Status != "online" || n.p.Platform != "android" {
		t.Fatalf("B's change: %+v", n.p)
	}
	// synced waits until B has heard every put so far: a marker put after
	// them has arrived. (B stamps an entry with the time it hears it.)
	markers := 0
	synced := func() {
		t.Helper()
		markers++
		at := presenceT0.Add(time.Duration(markers) * time.Second)
		if err := kv.Beat(context.Background(), "marker"); err != nil {
			t.Fatal(err)
		}
		if err := kv.Put(context.Background(), "marker", 1<<40, presence.Entry{Status: presence.Online, LastSeen: at}); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the marker at B", func() bool {
			p, ok := b.mem.PresenceWatcher.Presence([]int64{1 << 40})[1<<40]
			return ok && sameTimePtr(p.LastSeen, at)
		})
	}
	// A's beats within the TTL keep its entries alive on B.
	for range 4 {
		clock.Advance(25 * time.Second)
		a.sweep()
		synced()
		b.mem.PresenceWatcher.Expire()
	}
	b.waitStatus(bob, alice, presence.Online)
	// A dies: no more sweeps. 75 s after its last beat, B drops it.
	clock.Advance(74 * time.Second)
	b.mem.PresenceWatcher.Expire()
	if got := b.get(bob, alice.UserID)[0].Status; got != "online" {
		t.Fatalf("before the TTL: %s", got)
	}
	clock.Advance(time.Second)
	b.mem.PresenceWatcher.Expire()
	b.waitStatus(bob, alice, presence.Offline)
	if n := b.waitNote(alice, 2); n.p.Status != "offline" {
		t.Fatalf("B's second change: %+v, want offline", n.p)
	}
}

// typingRecorder subscribes to a chat's signals on the bus.
func typingRecorder(t *testing.T, bus *memory.EventBus, chatID int64) func() []command.TypingEvent {
	t.Helper()
	var mu sync.Mutex
	var got []command.TypingEvent
	sub, err := bus.SubscribeChat(context.Background(), chatID, func(e ports.Event) {
		if e.Type != ports.EventTyping {
			return
		}
		var te command.TypingEvent
		if err := json.Unmarshal(e.Data, &te); err != nil {
			t.Errorf("typing data %s: %v", e.Data, err)
			return
		}
		mu.Lock()
		got = append(got, te)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return func() []command.TypingEvent {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

func TestTyping(t *testing.T) {
	t.Parallel()
	e := newPresenceEnv(t, memapp.Options{})
	us := e.users(3)
	alice, bob, carol := us[0], us[1], us[2]
	chat := e.group(alice, bob)
	other := e.group(bob, carol) // alice is not a member
	got := typingRecorder(t, e.bus, chat)
	gotOther := typingRecorder(t, e.bus, other)
	ctx := context.Background()
	typing := func(a command.Actor, chatID int64, on bool) error {
		return e.mem.App.Commands.SetTyping.Handle(ctx, command.SetTyping{Actor: a, ChatID: chatID, IsTyping: on})
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// settle proves that alice's broadcasts so far are want in number:
	// bob's start and stop, published after them, came through.
	marker := 0
	settle := func(want int) []command.TypingEvent {
		t.Helper()
		marker++
		// A stop of someone who never started broadcasts nothing, so the
		// marker is bob starting and stopping in the chat.
		must(typing(bob, chat, true))
		must(typing(bob, chat, false))
		waitUntil(t, "the marker", func() bool {
			n := 0
			for _, te := range got() {
				if te.UserID == bob.UserID && !te.IsTyping {
					n++
				}
			}
			return n == marker
		})
		var mine []command.TypingEvent
		for _, te := range got() {
			if te.UserID == alice.UserID {
				mine = append(mine, te)
			}
		}
		if len(mine) != want {
			t.Fatalf("%d broadcasts of alice, want %d: %+v", len(mine), want, mine)
		}
		return mine
	}

	must(typing(alice, chat, true))
	e.clock.Advance(time.Second)
	must(typing(alice, chat, true)) // within 2 s: throttled
	mine := settle(1)
	if te := mine[0]; !te.IsTyping || te.ChatID != chat || !te.ExpiresAt.Equal(presenceT0.Add(6*time.Second)) {
		t.Fatalf("start: %+v, want expires_at t0+6s", te)
	}
	e.clock.Advance(time.Second) // 2 s after the broadcast
	must(typing(alice, chat, true))
	mine = settle(2)
	if !mine[1].ExpiresAt.Equal(presenceT0.Add(8 * time.Second)) {
		t.Fatalf("second start expires %s, want t0+8s", mine[1].ExpiresAt)
	}

	// Sending a message in the chat stops the typing.
	if _, _, err := e.mem.App.Commands.SendMessage.Handle(ctx, command.SendMessage{Actor: alice, ChatID: chat, Content: "hi"}); err != nil {
		t.Fatal(err)
	}
	mine = settle(3)
	if mine[2].IsTyping {
		t.Fatalf("after send: %+v, want is_typing false", mine[2])
	}
	// An explicit stop when not typing says nothing.
	must(typing(alice, chat, false))
	settle(3)

	// Explicit stop after a start.
	must(typing(alice, chat, true))
	must(typing(alice, chat, false))
	mine = settle(5)
	if !mine[3].IsTyping || mine[4].IsTyping {
		t.Fatalf("start then stop: %+v", mine[3:])
	}

	// Non-members and bad chats: not found, nothing broadcast.
	for _, id := range []int64{other, 0, -1, 1 << 40} {
		if err := typing(alice, id, true); !errs.Is(err, errs.NotFound) {
			t.Fatalf("typing in chat %d: %v, want not found", id, err)
		}
	}
	if err := typing(alice, other, false); !errs.Is(err, errs.NotFound) {
		t.Fatalf("stop in a chat of others: %v, want not found", err)
	}
	settle(5)
	for _, te := range gotOther() {
		if te.UserID == alice.UserID {
			t.Fatalf("alice's typing reached a chat she is not in: %+v", te)
		}
	}

	// The user's last connection going stops their typing everywhere.
	e.connect(alice, "c1", "web")
	e.connect(alice, "c2", "web")
	must(typing(alice, chat, true))
	e.disconnect(alice, "c1")
	settle(6)
	e.disconnect(alice, "c2")
	mine = settle(7)
	if mine[6].IsTyping {
		t.Fatalf("after the last disconnect: %+v, want a stop", mine[6])
	}
}

func TestGetPresenceValidates(t *testing.T) {
	t.Parallel()
	e := newPresenceEnv(t, memapp.Options{})
	alice := e.users(1)[0]
	stranger := e.users(1)[0] // another workspace
	v := query.Viewer{UserID: alice.UserID, WorkspaceID: alice.WorkspaceID}
	many := make([]int64, query.MaxPresenceUsers+1)
	for i := range many {
		many[i] = int64(i + 1)
	}
	for _, ids := range [][]int64{nil, {}, {0}, {alice.UserID, -3}, many} {
		if _, err := e.mem.App.Queries.GetPresence.Handle(context.Background(), v, ids); !errs.Is(err, errs.Invalid) {
			t.Errorf("ids %v: err = %v, want invalid", ids, err)
		}
	}
	e.connect(stranger, "s", "web")
	waitUntil(t, "the stranger online", func() bool {
		return len(e.mem.PresenceWatcher.Presence([]int64{stranger.UserID})) == 1
	})
	ps := e.get(alice, stranger.UserID, alice.UserID, alice.UserID, 1<<40)
	if len(ps) != 1 || ps[0].UserID != alice.UserID {
		t.Fatalf("got %+v, want only alice (once): users of other workspaces and unknown ids are left out", ps)
	}
	// At most 200 distinct ids, duplicates counted once, are fine.
	ids := append(slices.Repeat([]int64{alice.UserID}, 50), many[:query.MaxPresenceUsers-1]...)
	if _, err := e.mem.App.Queries.GetPresence.Handle(context.Background(), v, ids); err != nil {
		t.Fatalf("200 distinct ids: %v", err)
	}
}

// flakyStore is a presence store that can be down, and counts writes.
type flakyStore struct {
	ports.PresenceStore
	mu       sync.Mutex
	down     bool
	puts     int // attempted while down (puts and beats)
	upPuts   int // entry puts while up
	upBeats  int // beats while up
	failPuts int // puts to fail while up
}

func (s *flakyStore) Beat(ctx context.Context, instance string) error {
	s.mu.Lock()
	if s.down {
		s.puts++
		s.mu.Unlock()
		return errs.New(errs.Unavailable, "store down")
	}
	s.upBeats++
	s.mu.Unlock()
	return s.PresenceStore.Beat(ctx, instance)
}

func (s *flakyStore) counts() (puts, beats int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upPuts, s.upBeats
}

func (s *flakyStore) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *flakyStore) Put(ctx context.Context, instance string, userID int64, e presence.Entry) error {
	s.mu.Lock()
	if s.down {
		s.puts++
		s.mu.Unlock()
		return errs.New(errs.Unavailable, "store down")
	}
	if s.failPuts > 0 {
		s.failPuts--
		s.mu.Unlock()
		return errs.New(errs.Unavailable, "store timed out")
	}
	s.upPuts++
	s.mu.Unlock()
	return s.PresenceStore.Put(ctx, instance, userID, e)
}

// The commands never wait for the presence store; while it is down a
// sweep gives up after one failed write, and the next sweeps catch up.
func TestPresenceSurvivesAStoreOutage(t *testing.T) {
	t.Parallel()
	clock := memory.NewFakeClock(presenceT0)
	store := &flakyStore{PresenceStore: memory.NewPresenceStore(clock, 75*time.Second, 2*time.Hour)}
	e := newPresenceEnv(t, memapp.Options{Clock: clock, PresenceStore: store})
	us := e.users(4)
	store.setDown(true)
	ctx := context.Background()
	for _, u := range us[1:] {
		if err := e.mem.App.Commands.ConnectPresence.Handle(ctx, command.ConnectPresence{Actor: u, ConnID: "c", Platform: "web"}); err != nil {
			t.Fatalf("connect while the store is down: %v", err)
		}
	}
	if err := e.mem.Presence.Publish(ctx); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("publish while down: %v, want unavailable", err)
	}
	if err := e.mem.Presence.Sweep(ctx); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("sweep while down: %v, want unavailable", err)
	}
	if store.puts != 2 {
		t.Fatalf("%d writes tried while down, want 1 per pass", store.puts)
	}
	store.setDown(false)
	e.sweep()
	for _, u := range us[1:] {
		e.waitStatus(us[0], u, presence.Online)
	}
	// A beat that fails (the store may have lost its keys: a NATS
	// server restarted without its storage) makes the next sweep that
	// beats rewrite every entry, not only the changed ones.
	clock.Advance(25 * time.Second)
	store.setDown(true)
	if err := e.mem.Presence.Sweep(ctx); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("sweep while down: %v, want unavailable", err)
	}
	store.setDown(false)
	puts, _ := store.counts()
	e.sweep()
	if after, _ := store.counts(); after-puts != 3 {
		t.Fatalf("%d entries rewritten after the store came back, want the 3 connected users'", after-puts)
	}
	// A rewrite cut short (a put fails half way) is done again, whole,
	// by the next sweep.
	clock.Advance(25 * time.Second)
	store.setDown(true)
	if err := e.mem.Presence.Sweep(ctx); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("sweep while down: %v, want unavailable", err)
	}
	store.setDown(false)
	store.mu.Lock()
	store.failPuts = 1
	store.mu.Unlock()
	if err := e.mem.Presence.Sweep(ctx); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("sweep with a failing put: %v, want unavailable", err)
	}
	puts, _ = store.counts()
	e.sweep()
	if after, _ := store.counts(); after-puts != 3 {
		t.Fatalf("%d entries rewritten by the sweep after a cut-short rewrite, want all 3", after-puts)
	}
}

// A connected user who does nothing costs no write: the instance beats
// every Refresh (25 s here) and keeps their entry alive by it; the entry
// itself is rewritten every EntryRefresh (40 min, a third of the store's
// 2 h) or when it changes, or when the user's activity moved last seen by
// Refresh (so GET /presence's last_seen stays as fresh as it was).
func TestAnIdleUserCostsNoWriteButTheInstanceBeats(t *testing.T) {
	t.Parallel()
	clock := memory.NewFakeClock(presenceT0)
	store := &flakyStore{PresenceStore: memory.NewPresenceStore(clock, 75*time.Second, 2*time.Hour)}
	e := newPresenceEnv(t, memapp.Options{Clock: clock, PresenceStore: store})
	us := e.users(2)
	alice, bob := us[0], us[1]
	e.group(alice, bob)
	e.connect(alice, "a", "web")
	e.connect(bob, "b", "web")
	e.waitStatus(alice, bob, presence.Online)
	puts0, beats0 := store.counts()
	if puts0 != 2 || beats0 != 1 {
		t.Fatalf("after two connects: %d puts and %d beats, want 2 and 1", puts0, beats0)
	}
	// Ten minutes of sweeps, a second apart: each turns away once, 5
	// minutes after connecting (one put each), and nothing else is
	// written but the beats.
	for range 600 {
		clock.Advance(time.Second)
		e.sweep()
	}
	puts, beats := store.counts()
	if puts-puts0 != 2 {
		t.Fatalf("%d puts in ten idle minutes, want 2 (each user turning away once)", puts-puts0)
	}
	if beats-beats0 != 24 {
		t.Fatalf("%d beats in ten minutes, want one every 25 s (24)", beats-beats0)
	}
	e.waitStatus(alice, bob, presence.Away)
	// Bob's activity moves his last seen: his entry is rewritten once it
	// moved by Refresh, not at every activity.
	puts0, _ = store.counts()
	for range 60 {
		clock.Advance(time.Second)
		if err := e.mem.App.Commands.TouchPresence.Handle(context.Background(), command.TouchPresence{Actor: bob, ConnID: "b"}); err != nil {
			t.Fatal(err)
		}
		e.publish()
		e.sweep()
	}
	puts, _ = store.counts()
	if n := puts - puts0; n < 2 || n > 4 {
		t.Fatalf("%d puts in a minute of activity, want 1 back to online and about 1 every 25 s of last seen (2..4)", n)
	}
	// Over an idle hour (one and a half EntryRefresh periods), bob turns
	// away again and each entry is rewritten all the same, once.
	puts0, _ = store.counts()
	for range 60 {
		clock.Advance(time.Minute)
		e.sweep()
	}
	puts, _ = store.counts()
	if n := puts - puts0; n < 3 || n > 5 {
		t.Fatalf("%d puts in an idle hour, want bob turning away and each entry rewritten once by EntryRefresh (3..5)", n)
	}
}
