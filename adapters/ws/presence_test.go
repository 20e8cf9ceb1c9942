package ws_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/memory/memapp"
	natsbus "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/presence"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

// startPresence runs the instance's presence: its watcher delivers through
// the gateway, and its sweeps run every tick.
func startPresence(t *testing.T, e *env, s *server) {
	t.Helper()
	if err := e.mem.PresenceWatcher.Start(context.Background(), s.gw); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.mem.Presence.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; e.mem.PresenceWatcher.Stop() })
}

// presenceOptions: a short grace and tick, so that offline comes quickly.
func presenceOptions(instance string) command.PresenceOptions {
	return command.PresenceOptions{Instance: instance, Rules: presence.Rules{Grace: 300 * time.Millisecond}, Tick: 20 * time.Millisecond}
}

func isPresence(userID int64, status string) func(frame) bool {
	return func(f frame) bool {
		if f.Type != "presence.updated" {
			return false
		}
		var p query.Presence
		return json.Unmarshal(f.Data, &p) == nil && p.UserID == userID && p.Status == status
	}
}

func isPresenceOn(userID int64, status, platform string) func(frame) bool {
	return func(f frame) bool {
		var p query.Presence
		return f.Type == "presence.updated" && json.Unmarshal(f.Data, &p) == nil &&
			p.UserID == userID && p.Status == status && p.Platform == platform
	}
}

func isPresenceOf(userID int64) func(frame) bool {
	return func(f frame) bool {
		var p query.Presence
		return f.Type == "presence.updated" && json.Unmarshal(f.Data, &p) == nil && p.UserID == userID
	}
}

func isTyping(chatID, userID int64, on bool) func(frame) bool {
	return func(f frame) bool {
		if f.Type != "typing.updated" {
			return false
		}
		var te command.TypingEvent
		return json.Unmarshal(f.Data, &te) == nil && te.ChatID == chatID && te.UserID == userID && te.IsTyping == on
	}
}

func isTypingOf(userID int64) func(frame) bool {
	return func(f frame) bool {
		var te command.TypingEvent
		return f.Type == "typing.updated" && json.Unmarshal(f.Data, &te) == nil && te.UserID == userID
	}
}

// Two instances share one NATS (the presence bucket, typing signals, the
// event stream) and the storage. A user's presence and typing on A reach a
// chat partner on B; users who share no chat with them hear nothing.
func TestPresenceAndTypingAcrossInstances(t *testing.T) {
	t.Parallel()
	srv, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{StoreDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	unique := porttest.Unique("")
	cfg := natsbus.StreamConfig{Name: "WSPRES_" + strings.ToUpper(unique), Prefix: "wspres" + unique}
	bucket := "WSPRES_" + strings.ToUpper(unique)
	ctx := context.Background()

	// What one server instance has of NATS: a connection with its presence
	// store, its typing publisher and its subscriber.
	type natsSide struct {
		kv   ports.PresenceStore
		sigs ports.SignalPublisher
		sub  ports.EventSubscriber
		pub  ports.EventPublisher
	}
	side := func(name string) natsSide {
		nc, err := natsbus.Connect(srv.ClientURL(), name, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := natsbus.EnsureStream(ctx, js, cfg); err != nil {
			t.Fatal(err)
		}
		kv, err := natsbus.EnsurePresenceKV(ctx, js, natsbus.PresenceKVConfig{Bucket: bucket, TTL: 3 * time.Second}, nil)
		if err != nil {
			t.Fatal(err)
		}
		sigs, err := natsbus.NewSignalPublisher(nc, cfg.Prefix)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := natsbus.NewSubscriber(nc, cfg.Prefix, nil)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := natsbus.NewPublisher(js, cfg, 0)
		if err != nil {
			t.Fatal(err)
		}
		return natsSide{kv: kv, sigs: sigs, sub: sub, pub: pub}
	}
	na, nb := side("instance-a"), side("instance-b")
	store, lastSeen := memory.NewStore(), memory.NewLastSeenRepository()
	ea := newEnv(t, memapp.Options{Store: store, LastSeen: lastSeen, PresenceStore: na.kv, Signals: na.sigs, Presence: presenceOptions("a")}, na.pub)
	eb := newEnv(t, memapp.Options{Store: store, LastSeen: lastSeen, PresenceStore: nb.kv, Signals: nb.sigs, Presence: presenceOptions("b")}, nb.pub)
	a := ea.start(na.sub, serverOptions{})
	b := eb.start(nb.sub, serverOptions{})
	startPresence(t, ea, a)
	startPresence(t, eb, b)

	us := ea.users(5)
	alice, bob, carol, dave, erin := us[0], us[1], us[2], us[3], us[4]
	g := ea.group(alice, bob)
	marker := ea.group(erin, carol, dave) // alice shares no chat with carol and dave

	bobB := dial(t, b, bob, "bob@B", dialOptions{query: "platform=web"})
	bobA := dial(t, a, bob, "bob@A", dialOptions{query: "platform=android"})
	carolB := dial(t, b, carol, "carol@B (shares no chat with alice)", dialOptions{})
	daveA := dial(t, a, dave, "dave@A (shares no chat with alice)", dialOptions{})
	for _, c := range []*client{bobB, bobA, carolB, daveA} {
		c.hello()
	}

	// Alice comes online on A, with two devices.
	aliceA := dial(t, a, alice, "alice@A", dialOptions{query: "platform=ios"})
	aliceA.hello()
	for _, c := range []*client{bobB, bobA} {
		f := c.waitFor("alice online", isPresence(alice.ID, "online"))
		var p query.Presence
		f.decode(t, &p)
		if p.Platform != "ios" || p.LastSeen == nil {
			t.Fatalf("%s: %+v, want ios with a last_seen", c.name, p)
		}
	}
	aliceA2 := dial(t, a, alice, "alice's second device @A", dialOptions{query: "platform=desktop"})
	aliceA2.hello()
	// The newest device's platform is shown: a change of platform alone.
	bobB.waitFor("alice online from desktop", isPresenceOn(alice.ID, "online", "desktop"))

	// Typing on A reaches bob on both instances, not alice's own devices;
	// a repeat within 2 s is not broadcast; then an explicit stop.
	aliceA.write(map[string]any{"type": "typing", "chat_id": g.ID, "is_typing": true})
	aliceA.write(map[string]any{"type": "typing", "chat_id": g.ID, "is_typing": true})
	aliceA.write(map[string]any{"type": "typing", "chat_id": g.ID, "is_typing": false})
	for _, c := range []*client{bobB, bobA} {
		f := c.waitFor("alice typing", isTyping(g.ID, alice.ID, true))
		var te command.TypingEvent
		f.decode(t, &te)
		if d := time.Until(te.ExpiresAt); d < 3*time.Second || d > 7*time.Second {
			t.Fatalf("%s: expires_at %s is not about 6 s ahead", c.name, te.ExpiresAt)
		}
		c.waitFor("alice stopped", isTyping(g.ID, alice.ID, false))
		if n := c.count(isTyping(g.ID, alice.ID, true)); n != 1 {
			t.Fatalf("%s: %d starts, want 1 (the repeat is throttled)", c.name, n)
		}
	}

	// Sending a message stops the typing.
	aliceA.write(map[string]any{"type": "typing", "chat_id": g.ID, "is_typing": true})
	bobB.waitCount("alice typing again", isTyping(g.ID, alice.ID, true), 2)
	aliceA.write(map[string]any{"type": "message.send", "ref": "m1", "chat_id": g.ID, "content": "hi bob"})
	aliceA.waitFor("ack", isAck("m1"))
	for _, c := range []*client{bobB, bobA} {
		c.waitFor("message", isCreated(g.ID, 1))
		c.waitCount("stop on send", isTyping(g.ID, alice.ID, false), 2)
	}

	// A declared away on both devices, then back.
	aliceA.write(map[string]any{"type": "presence", "status": "away"})
	aliceA2.write(map[string]any{"type": "presence", "status": "away"})
	bobB.waitFor("alice away", isPresence(alice.ID, "away"))
	online := bobB.count(isPresence(alice.ID, "online"))
	aliceA2.write(map[string]any{"type": "presence", "status": "online"})
	bobB.waitCount("alice online again", isPresence(alice.ID, "online"), online+1)

	// Typing in a chat she is not in: not_found, nothing broadcast.
	aliceA.write(map[string]any{"type": "typing", "ref": "t1", "chat_id": marker.ID, "is_typing": true})
	f := aliceA.waitFor("error", isType("error"))
	var ed errorData
	f.decode(t, &ed)
	if ed.Code != "not_found" || string(ed.Ref) != `"t1"` {
		t.Fatalf("typing in another's chat: %+v, want not_found", ed)
	}

	// Alice's devices go: typing stops at once, offline after the grace.
	aliceA2.write(map[string]any{"type": "typing", "chat_id": g.ID, "is_typing": true})
	bobB.waitCount("alice typing on her second device", isTyping(g.ID, alice.ID, true), 3)
	aliceA.close()
	aliceA2.close()
	for _, c := range []*client{bobB, bobA} {
		c.waitCount("typing stopped by the disconnect", isTyping(g.ID, alice.ID, false), 3)
		c.waitFor("alice offline", isPresence(alice.ID, "offline"))
	}

	// The typist never heard her own typing.
	for _, c := range []*client{aliceA, aliceA2} {
		if n := c.count(isTypingOf(alice.ID)); n != 0 {
			t.Fatalf("%s got %d of its own typing frames", c.name, n)
		}
	}
	// Carol and dave share no chat with alice: a later marker (erin, who
	// shares one with them, comes online and types) reaches them, and
	// nothing of alice did before it.
	erinB := dial(t, b, erin, "erin@B", dialOptions{})
	erinB.hello()
	erinB.write(map[string]any{"type": "typing", "chat_id": marker.ID, "is_typing": true})
	for _, c := range []*client{carolB, daveA} {
		c.waitFor("erin online", isPresence(erin.ID, "online"))
		c.waitFor("erin typing", isTyping(marker.ID, erin.ID, true))
		if n := c.count(isPresenceOf(alice.ID)) + c.count(isTypingOf(alice.ID)); n != 0 {
			t.Fatalf("%s heard %d presence or typing frames of alice:%s", c.name, n, c.describe())
		}
		c.never(g.ID, "not a member")
	}
	// Bob is not in the marker chat: erin's typing did not reach him.
	bobB.roundTrip()
	if n := bobB.count(isTypingOf(erin.ID)) + bobB.count(isPresenceOf(erin.ID)); n != 0 {
		t.Fatalf("bob heard %d frames of erin, with whom he shares no chat", n)
	}
}

// One instance: bad frames, REST-free typing rules at the socket.
func TestTypingFramesOnOneInstance(t *testing.T) {
	t.Parallel()
	bus := memory.NewEventBus()
	e := newEnv(t, memapp.Options{Signals: bus, Presence: presenceOptions("one")}, bus)
	s := e.start(bus, serverOptions{})
	startPresence(t, e, s)
	us := e.users(2)
	alice, bob := us[0], us[1]
	g := e.group(alice, bob)
	ca := dial(t, s, alice, "alice", dialOptions{})
	cb := dial(t, s, bob, "bob", dialOptions{})
	ca.hello()
	cb.hello()

	for _, bad := range []string{
		`{"type":"typing","chat_id":1}`,
		`{"type":"typing","chat_id":"x","is_typing":true}`,
		`{"type":"typing","chat_id":0,"is_typing":true}`,
		`{"type":"typing","chat_id":1,"is_typing":"yes"}`,
		`{"type":"presence"}`,
		`{"type":"presence","status":"offline"}`,
		`{"type":"presence","status":7}`,
	} {
		n := ca.count(isType("error"))
		ca.writeRaw(1, []byte(bad))
		f := ca.waitCount2(bad, isType("error"), n+1)
		var ed errorData
		f.decode(t, &ed)
		if ed.Code != "invalid_argument" {
			t.Fatalf("%s: error %+v, want invalid_argument", bad, ed)
		}
	}
	ca.write(map[string]any{"type": "typing", "chat_id": 1 << 40, "is_typing": true})
	ca.waitCount("not_found", func(f frame) bool {
		var ed errorData
		return f.Type == "error" && json.Unmarshal(f.Data, &ed) == nil && ed.Code == "not_found"
	}, 1)

	ca.write(map[string]any{"type": "typing", "chat_id": g.ID, "is_typing": true})
	cb.waitFor("typing", isTyping(g.ID, alice.ID, true))
	// Bob's own frames prove that alice's bad frames broadcast nothing.
	cb.roundTrip()
	if n := cb.count(isType("typing.updated")); n != 1 {
		t.Fatalf("bob got %d typing frames, want 1:%s", n, cb.describe())
	}
	ca.roundTrip()
	if n := ca.count(isType("typing.updated")); n != 0 {
		t.Fatalf("the typist got %d typing frames", n)
	}
}

// waitCount2 is waitCount returning the last matching frame.
func (c *client) waitCount2(what string, ok func(frame) bool, n int) frame {
	c.t.Helper()
	c.waitCount(what, ok, n)
	var last frame
	for _, f := range c.snapshot() {
		if ok(f) {
			last = f
		}
	}
	return last
}

// close ends the connection from the client side and waits for its end.
func (c *client) close() {
	c.t.Helper()
	_ = c.c.WriteMessage(8, []byte{0x03, 0xe8}) // close frame, 1000
	c.waitClosed()
}
