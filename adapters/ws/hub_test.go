package ws

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/domain/chat"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// fakeBus keeps the hub's one subscription so a test can deliver events
// in the order it chooses, such as a user-scoped copy before the
// chat-scoped one.
type fakeBus struct {
	mu    sync.Mutex
	all   *fakeSub
	fail  bool
	calls int
}

type fakeSub struct {
	bus     *fakeBus
	handler func(ports.Event)
	gone    bool
}

func (s *fakeSub) Unsubscribe() error {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	s.gone = true
	return nil
}

func newFakeBus() *fakeBus { return &fakeBus{} }

func (b *fakeBus) SubscribeChat(context.Context, int64, func(ports.Event)) (ports.Subscription, error) {
	panic("the hub subscribes once per instance, never per chat")
}

func (b *fakeBus) SubscribeUser(context.Context, int64, func(ports.Event)) (ports.Subscription, error) {
	panic("the hub subscribes once per instance, never per user")
}

func (b *fakeBus) SubscribeAll(_ context.Context, h func(ports.Event)) (ports.Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.fail {
		return nil, errs.New(errs.Unavailable, "bus down")
	}
	if b.all != nil && !b.all.gone {
		panic("second live instance subscription")
	}
	b.all = &fakeSub{bus: b, handler: h}
	return b.all, nil
}

// chat and user deliver an event as the bus would.
func (b *fakeBus) chat(t *testing.T, id int64, e ports.Event) {
	t.Helper()
	e.ChatID = id
	b.deliver(t, e)
}

func (b *fakeBus) user(t *testing.T, id int64, e ports.Event) {
	t.Helper()
	e.ChatID, e.UserID = 0, id
	b.deliver(t, e)
}

func (b *fakeBus) deliver(t *testing.T, e ports.Event) {
	t.Helper()
	b.mu.Lock()
	s := b.all
	b.mu.Unlock()
	if s == nil || s.gone {
		t.Fatal("no live instance subscription")
	}
	s.handler(e)
}

// indexed reports whether the hub's routing index has the chat or user.
func (f *hubFixture) indexed(user bool, id int64) bool {
	f.hub.mu.Lock()
	defer f.hub.mu.Unlock()
	return f.hub.rooms(user)[id] != nil
}

// socketless is a connection without a socket or writer: its frames stay
// queued for the test to read.
func socketless(g *Gateway, actor command.Actor, platform string) *conn {
	c := newConn(g, nil, actor, platform)
	c.writing = true // no writer starts
	return c
}

func event(typ string, chatID, userID int64, data any) ports.Event {
	b, _ := json.Marshal(data)
	return ports.Event{ID: typ, Type: typ, ChatID: chatID, UserID: userID, Data: b}
}

func member(chatID, userID int64) command.MemberEvent {
	return command.MemberEvent{ChatID: chatID, UserID: userID, Role: string(chat.Member)}
}

type hubFixture struct {
	t   *testing.T
	bus *fakeBus
	hub *hub
	g   *Gateway
}

func newHubFixture(t *testing.T) *hubFixture {
	bus := newFakeBus()
	g := &Gateway{log: zap.NewNop(), opts: Options{SendQueue: 8}.withDefaults()}
	g.hub = newHub(bus, g.log, time.Second, nil)
	return &hubFixture{t: t, bus: bus, hub: g.hub, g: g}
}

// connect attaches a connection of user to the hub and joins chats, as
// setup does (without a socket: frames stay in the queue).
func (f *hubFixture) connect(userID int64, session string, chats ...int64) *conn {
	f.t.Helper()
	c := socketless(f.g, command.Actor{UserID: userID, WorkspaceID: 1, SessionID: session}, "test")
	if _, err := f.hub.attachUser(context.Background(), c); err != nil {
		f.t.Fatal(err)
	}
	if err := f.hub.joinChats(context.Background(), c, chats); err != nil {
		f.t.Fatal(err)
	}
	return c
}

// got returns the types and chat ids of the frames queued for c, and
// empties its queue.
func got(t *testing.T, c *conn) []string {
	t.Helper()
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	var out []string
	for _, b := range q {
		var f struct {
			Type string `json:"type"`
			Data struct {
				ChatID int64 `json:"chat_id"`
				UserID int64 `json:"user_id"`
				Seq    int64 `json:"seq"`
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("frame %s: %v", b, err)
		}
		s := f.Type
		switch {
		case f.Data.Seq != 0:
			s += " seq " + itoa(f.Data.Seq)
		case f.Data.UserID != 0 && f.Type != "session.revoked":
			s += " user " + itoa(f.Data.UserID)
		}
		out = append(out, s)
	}
	return out
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func expect(t *testing.T, c *conn, want ...string) {
	t.Helper()
	if g := got(t, c); !slices.Equal(g, want) {
		t.Fatalf("user %d got %q, want %q", c.actor.UserID, g, want)
	}
}

func msg(chatID, seq int64) ports.Event {
	return event(ports.EventMessageCreated, chatID, 0, map[string]int64{"chat_id": chatID, "seq": seq})
}

func TestHubMemberAddedOnceWhicheverCopyComesFirst(t *testing.T) {
	for _, userFirst := range []bool{true, false} {
		f := newHubFixture(t)
		old := f.connect(8, "s8", 2) // the chat's existing local member
		c := f.connect(7, "s7")      // not in chat 2 yet
		chatCopy := event(ports.EventChatMemberAdded, 2, 0, member(2, 7))
		userCopy := event(ports.EventChatMemberAdded, 0, 7, member(2, 7))
		if userFirst {
			f.bus.user(t, 7, userCopy)
			f.bus.chat(t, 2, chatCopy)
		} else {
			f.bus.chat(t, 2, chatCopy)
			f.bus.user(t, 7, userCopy)
		}
		f.bus.chat(t, 2, msg(2, 1))
		expect(t, c, "chat.member_added user 7", "message.created seq 1")
		expect(t, old, "chat.member_added user 7", "message.created seq 1")
	}
}

func TestHubUserCopyJoinsBeforeShowingTheEvent(t *testing.T) {
	f := newHubFixture(t)
	c := f.connect(7, "s7")
	if f.indexed(false, 3) {
		t.Fatal("chat 3 followed before anyone is in it")
	}
	f.bus.user(t, 7, event(ports.EventChatCreated, 0, 7, map[string]int64{"id": 3}))
	if !f.indexed(false, 3) {
		t.Fatal("chat 3 not followed after its creation reached a member")
	}
	f.bus.chat(t, 3, msg(3, 1))
	expect(t, c, "chat.created", "message.created seq 1")
}

func TestHubMemberRemoved(t *testing.T) {
	for _, userFirst := range []bool{true, false} {
		f := newHubFixture(t)
		stay := f.connect(8, "s8", 2)
		gone := f.connect(7, "s7", 2)
		gone2 := f.connect(7, "s7b", 2) // a second device
		chatCopy := event(ports.EventChatMemberRemoved, 2, 0, member(2, 7))
		userCopy := event(ports.EventChatMemberRemoved, 0, 7, member(2, 7))
		if userFirst {
			f.bus.user(t, 7, userCopy)
			f.bus.chat(t, 2, chatCopy)
		} else {
			f.bus.chat(t, 2, chatCopy)
			f.bus.user(t, 7, userCopy)
		}
		f.bus.chat(t, 2, msg(2, 5))
		expect(t, gone, "chat.member_removed user 7")
		expect(t, gone2, "chat.member_removed user 7")
		expect(t, stay, "chat.member_removed user 7", "message.created seq 5")
	}
}

func TestHubLastLocalMemberLeavesTheIndex(t *testing.T) {
	f := newHubFixture(t)
	a := f.connect(7, "s7", 2, 3)
	b := f.connect(8, "s8", 2)
	f.hub.detach(a)
	if f.indexed(false, 3) || f.indexed(true, 7) {
		t.Fatal("chat 3 or user 7 still followed with no local connection")
	}
	if !f.indexed(false, 2) {
		t.Fatal("chat 2 dropped while user 8 is in it")
	}
	f.bus.chat(t, 2, event(ports.EventChatDeleted, 2, 0, map[string]int64{"chat_id": 2}))
	expect(t, b, "chat.deleted")
	if f.indexed(false, 2) {
		t.Fatal("deleted chat still followed")
	}
	// Following it again later subscribes anew.
	c := f.connect(8, "s8", 2)
	if !f.indexed(false, 2) {
		t.Fatal("chat 2 not followed again")
	}
	f.hub.detach(b)
	f.hub.detach(c)
	if users, chats := f.hub.stats(); users != 0 || chats != 0 {
		t.Fatalf("rooms left: %d users, %d chats", users, chats)
	}
}

func TestHubRevokedSessionKillsOnlyItsSockets(t *testing.T) {
	f := newHubFixture(t)
	s1 := f.connect(7, "one")
	s1b := f.connect(7, "one")
	s2 := f.connect(7, "two")
	f.bus.user(t, 7, event(ports.EventSessionRevoked, 0, 7, command.SessionRevokedEvent{UserID: 7, SessionID: "one"}))
	for _, c := range []*conn{s1, s1b} {
		if c.code != CloseSessionRevoked {
			t.Fatalf("session one closed with %d, want 4001", c.code)
		}
	}
	if s2.closing {
		t.Fatal("session two closed")
	}
}

func TestHubFullQueueClosesWith1008(t *testing.T) {
	f := newHubFixture(t)
	slow := f.connect(7, "s7", 2)
	fast := f.connect(8, "s8", 2)
	for seq := int64(1); seq <= 20; seq++ {
		f.bus.chat(t, 2, msg(2, seq))
		if len(got(t, fast)) != 1 {
			t.Fatalf("fast connection missed message %d", seq)
		}
	}
	if !slow.closing || slow.code != 1008 || slow.reason == "" {
		t.Fatalf("slow connection: closing %v code %d %q", slow.closing, slow.code, slow.reason)
	}
}

func TestHubBusDownFailsTheConnectionUntilItComesBack(t *testing.T) {
	f := newHubFixture(t)
	f.bus.mu.Lock()
	f.bus.fail = true
	f.bus.mu.Unlock()
	c := socketless(f.g, command.Actor{UserID: 7, WorkspaceID: 1, SessionID: "s7"}, "test")
	if _, err := f.hub.attachUser(context.Background(), c); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("attach with the bus down: %v, want unavailable", err)
	}
	if f.indexed(true, 7) {
		t.Fatal("user 7 indexed without a subscription")
	}
	f.bus.mu.Lock()
	f.bus.fail = false
	f.bus.mu.Unlock()
	c = f.connect(7, "s7")
	f.bus.user(t, 7, event(ports.EventChatMemberAdded, 0, 7, member(4, 7)))
	f.bus.chat(t, 4, msg(4, 1))
	expect(t, c, "chat.member_added user 7", "message.created seq 1")
}

func TestHubConcurrentJoinsShareOneInstanceSubscription(t *testing.T) {
	f := newHubFixture(t)
	var wg sync.WaitGroup
	conns := make([]*conn, 50)
	for i := range conns {
		conns[i] = socketless(f.g, command.Actor{UserID: int64(100 + i)}, "test")
	}
	errc := make(chan error, len(conns))
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- f.hub.joinChats(context.Background(), c, []int64{9})
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	f.bus.chat(t, 9, msg(9, 1))
	for _, c := range conns {
		expect(t, c, "message.created seq 1")
	}
	for _, c := range conns {
		wg.Add(1)
		go func() { defer wg.Done(); f.hub.detach(c) }()
	}
	wg.Wait()
	if f.indexed(false, 9) {
		t.Fatal("chat 9 followed after everyone left")
	}
	f.bus.mu.Lock()
	defer f.bus.mu.Unlock()
	if f.bus.calls != 1 || f.bus.all.gone {
		t.Fatalf("%d subscribe calls (gone %v), want 1 live", f.bus.calls, f.bus.all.gone)
	}
}

// Set-up lists a connection's chats a second time only when an event that
// may change them was routed since it attached: its user's membership
// events, or any chat.deleted.
func TestHubChangedSinceAttach(t *testing.T) {
	f := newHubFixture(t)
	c := socketless(f.g, command.Actor{UserID: 1, WorkspaceID: 1, SessionID: "s"}, "test")
	attach := func() mark {
		t.Helper()
		m, err := f.hub.attachUser(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := attach()
	f.bus.chat(t, 7, event(ports.EventMessageCreated, 7, 0, map[string]any{"seq": 1}))
	f.bus.user(t, 2, event(ports.EventChatMemberRemoved, 0, 2, member(7, 2)))
	if f.hub.changedSince(c, m) {
		t.Fatal("changed after a message and another user's removal")
	}
	f.bus.user(t, 1, event(ports.EventChatMemberRemoved, 0, 1, member(7, 1)))
	if !f.hub.changedSince(c, m) {
		t.Fatal("not changed after the user's own removal")
	}
	m = attach()
	f.bus.chat(t, 99, event(ports.EventChatDeleted, 99, 0, map[string]any{"chat_id": 99}))
	if !f.hub.changedSince(c, m) {
		t.Fatal("not changed after a chat.deleted (of a chat no one here follows)")
	}
}
