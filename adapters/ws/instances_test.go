package ws_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fechatter/fechatter/adapters/memory/memapp"
	natsbus "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/ports/porttest"
)

// natsBus starts one embedded NATS server with a stream of its own and
// returns the publisher the relay uses and a factory of subscribers, one
// connection each, as separate server instances would have.
func natsBus(t *testing.T) (*natsbus.Publisher, func(name string) *natsbus.Subscriber) {
	t.Helper()
	pub, sub, _ := natsBusServer(t)
	return pub, sub
}

// natsBusServer is natsBus that also returns the embedded server.
func natsBusServer(t *testing.T) (*natsbus.Publisher, func(name string) *natsbus.Subscriber, *natsbus.Embedded) {
	t.Helper()
	srv, err := natsbus.StartEmbedded(natsbus.EmbeddedConfig{StoreDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	unique := porttest.Unique("")
	cfg := natsbus.StreamConfig{Name: "WSTEST_" + strings.ToUpper(unique), Prefix: "wstest" + unique}
	pubConn, err := natsbus.Connect(srv.ClientURL(), "relay", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pubConn.Close)
	js, err := jetstream.New(pubConn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := natsbus.EnsureStream(context.Background(), js, cfg); err != nil {
		t.Fatal(err)
	}
	pub, err := natsbus.NewPublisher(js, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	return pub, func(name string) *natsbus.Subscriber {
		nc, err := natsbus.Connect(srv.ClientURL(), name, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		sub, err := natsbus.NewSubscriber(nc, cfg.Prefix, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}, srv
}

// Two gateways share the storage and one NATS server, as two instances
// behind a load balancer do.
func TestTwoInstancesDeliverToEachOthersClients(t *testing.T) {
	t.Parallel()
	pub, subscriber := natsBus(t)
	e := newEnv(t, memapp.Options{}, pub)
	a := e.start(subscriber("instance-a"), serverOptions{})
	b := e.start(subscriber("instance-b"), serverOptions{})

	us := e.users(6)
	alice, bob, carol, dave, erin, frank := us[0], us[1], us[2], us[3], us[4], us[5]
	g := e.group(alice, bob, carol)

	ca := dial(t, a, alice, "alice@A", dialOptions{})
	cb := dial(t, b, bob, "bob@B", dialOptions{})
	ccB := dial(t, b, carol, "carol@B", dialOptions{})
	ccA := dial(t, a, carol, "carol@A", dialOptions{})
	cdB := dial(t, b, dave, "dave@B (not a member)", dialOptions{})
	cdA := dial(t, a, dave, "dave@A (not a member)", dialOptions{})
	ce := dial(t, b, erin, "erin@B", dialOptions{})
	cf := dial(t, a, frank, "frank@A", dialOptions{})
	for _, c := range []*client{ca, cb, ccB, ccA, cdB, cdA, ce, cf} {
		c.hello()
	}
	if seq, ok := ca.hello().lastSeq(g.ID); !ok || seq != 0 {
		t.Fatalf("alice's hello lacks chat %d", g.ID)
	}

	// A member on A sends; members on B (and A, and the sender) receive.
	ca.write(map[string]any{"type": "message.send", "ref": "m1", "chat_id": g.ID, "content": "hello from A"})
	ca.waitFor("ack", isAck("m1"))
	for _, c := range []*client{ca, cb, ccB, ccA} {
		c.waitFor("message 1", isCreated(g.ID, 1))
	}

	// Dave is in no chat of theirs: a marker chat with him, created after,
	// reaches him on both instances; nothing of chat g did before it.
	marker := e.group(frank, dave)
	for _, c := range []*client{cdA, cdB} {
		c.waitFor("marker chat", func(f frame) bool { return f.Type == "chat.created" && f.chatOf() == marker.ID })
	}
	e.send(frank, marker.ID, "marker 1")
	for _, c := range []*client{cdA, cdB} {
		c.waitFor("marker message", isCreated(marker.ID, 1))
		c.never(g.ID, "dave is not a member")
	}

	// Carol leaves: both her devices see it, then nothing more of g.
	if err := e.app.Commands.RemoveMember.Handle(context.Background(),
		command.RemoveMember{Actor: alice.actor(), ChatID: g.ID, UserID: carol.ID}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{ca, cb, ccA, ccB} {
		c.waitFor("carol removed", isMemberEvent("chat.member_removed", g.ID, carol.ID))
	}
	ca.write(map[string]any{"type": "message.send", "ref": "m2", "chat_id": g.ID, "content": "carol is gone"})
	cb.waitFor("message 2 at bob", isCreated(g.ID, 2))

	// Erin (on B, which follows g) and frank (on A, which follows g for
	// alice) are added; each starts receiving at once.
	if _, err := e.app.Commands.AddMembers.Handle(context.Background(),
		command.AddMembers{Actor: alice.actor(), ChatID: g.ID, UserIDs: []int64{erin.ID, frank.ID}}); err != nil {
		t.Fatal(err)
	}
	ce.waitFor("erin added", isMemberEvent("chat.member_added", g.ID, erin.ID))
	cf.waitFor("frank added", isMemberEvent("chat.member_added", g.ID, frank.ID))
	cb.write(map[string]any{"type": "message.send", "ref": "m3", "chat_id": g.ID, "content": "welcome"})
	for _, c := range []*client{ca, cb, ce, cf} {
		c.waitFor("message 3", isCreated(g.ID, 3))
	}
	for _, c := range []*client{ce, cf} {
		if c.count(isCreated(g.ID, 1))+c.count(isCreated(g.ID, 2)) != 0 {
			t.Fatalf("%s got messages from before it joined", c.name)
		}
	}

	// A chat A does not follow (its members are on B): frank, on A, is
	// added; A learns of it from frank's user-scoped event.
	h := e.group(bob, erin)
	cb.waitFor("chat h", func(f frame) bool { return f.Type == "chat.created" && f.chatOf() == h.ID })
	if _, err := e.app.Commands.AddMembers.Handle(context.Background(),
		command.AddMembers{Actor: bob.actor(), ChatID: h.ID, UserIDs: []int64{frank.ID}}); err != nil {
		t.Fatal(err)
	}
	cf.waitFor("frank added to h", isMemberEvent("chat.member_added", h.ID, frank.ID))
	cb.write(map[string]any{"type": "message.send", "ref": "h1", "chat_id": h.ID, "content": "hi frank"})
	cf.waitFor("message in h at frank", isCreated(h.ID, 1))

	// The removed member heard nothing more of g: a later marker proves it.
	e.send(frank, marker.ID, "marker 2")
	if _, err := e.app.Commands.AddMembers.Handle(context.Background(),
		command.AddMembers{Actor: frank.actor(), ChatID: marker.ID, UserIDs: []int64{carol.ID}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{ccA, ccB} {
		c.waitFor("carol added to the marker chat", isMemberEvent("chat.member_added", marker.ID, carol.ID))
	}
	e.send(frank, marker.ID, "marker 3")
	for _, c := range []*client{ccA, ccB} {
		c.waitFor("marker 3 at carol", isCreated(marker.ID, 3))
		for _, seq := range []int64{2, 3} {
			if c.count(isCreated(g.ID, seq)) != 0 {
				t.Fatalf("%s got message %d of chat %d after leaving it:%s", c.name, seq, g.ID, c.describe())
			}
		}
	}
	for _, c := range []*client{cdA, cdB} {
		c.waitFor("marker 3 at dave", isCreated(marker.ID, 3))
		c.never(g.ID, "dave is not a member")
	}

	// Each added member saw its addition once, whichever copy (chat- or
	// user-scoped) reached its instance first.
	for _, tc := range []struct {
		c    *client
		chat int64
	}{{ce, g.ID}, {cf, g.ID}, {cf, h.ID}} {
		if n := tc.c.count(isMemberEvent("chat.member_added", tc.chat, tc.c.helloUser())); n != 1 {
			t.Fatalf("%s saw its addition to chat %d %d times", tc.c.name, tc.chat, n)
		}
	}
}

// helloUser is the user id the client's hello named.
func (c *client) helloUser() int64 {
	for _, f := range c.snapshot() {
		if f.Type == "hello" {
			var h helloData
			f.decode(c.t, &h)
			return h.UserID
		}
	}
	c.t.Fatalf("%s: no hello", c.name)
	return 0
}
