package ws_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/application/command"
)

// 1,000 idle connections of 1,000 users cost the NATS server no
// subscription each: the instance has one, routed in memory.
func TestIdleConnectionsHoldNoBusSubscriptionEach(t *testing.T) {
	t.Parallel()
	pub, subscriber, srv := natsBusServer(t)
	e := newEnv(t, memapp.Options{}, pub)
	base := srv.NumSubscriptions()
	s := e.start(subscriber("instance"), serverOptions{})
	const n = 1000
	us := e.users(n)
	// Chats of ten, so the index has chats too.
	for i := 0; i+10 <= n; i += 10 {
		e.group(us[i], us[i+1:i+10]...)
	}
	clients := make([]*client, n)
	var wg sync.WaitGroup
	// At most 32 dials at once, as a client fleet ramps up: 1,000 at once
	// on a loaded machine queued some handshakes past the dial timeout
	// (before and after connections lost their writer goroutine).
	sem := make(chan struct{}, 32)
	for i := range us {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			clients[i] = dial(t, s, us[i], fmt.Sprintf("user %d", i), dialOptions{})
		}()
	}
	wg.Wait()
	for _, c := range clients {
		c.hello()
	}
	st := s.gw.Stats()
	if st.Connections != n || st.Users != n || st.ChatSubscriptions != n/10 || st.BusSubscriptions != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The NATS server's own count: the instance subscription and the
	// client's inbox at most, whatever n is.
	if got := srv.NumSubscriptions() - base; got > 2 {
		t.Fatalf("%d NATS subscriptions for %d connections", got, n)
	}
	// And they are live: a message reaches the ten members of the last chat.
	e.send(us[n-10], lastChat(t, clients[n-1]), "still there")
	for _, c := range clients[n-10:] {
		c.waitFor("the message", isCreated(lastChat(t, clients[n-1]), 1))
	}
}

// lastChat is the one chat the client's hello lists.
func lastChat(t *testing.T, c *client) int64 {
	h := c.hello()
	if len(h.Chats) != 1 {
		t.Fatalf("%s: hello lists %d chats", c.name, len(h.Chats))
	}
	return h.Chats[0].ChatID
}

// Members of one chat spread over two instances each receive every message
// once and in seq order while membership changes during the run: a removed
// member's stream stops right after its removal, an added member's starts
// right after its addition, and the others see every seq.
func TestTwoInstancesOrderWhileMembershipChanges(t *testing.T) {
	t.Parallel()
	pub, subscriber := natsBus(t)
	e := newEnv(t, memapp.Options{}, pub)
	a := e.start(subscriber("instance-a"), serverOptions{})
	b := e.start(subscriber("instance-b"), serverOptions{})
	us := e.users(6)
	owner, stay1, stay2, leaver, joiner1, joiner2 := us[0], us[1], us[2], us[3], us[4], us[5]
	g := e.group(owner, stay1, stay2, leaver)
	conns := map[string]*client{
		"owner@A":   dial(t, a, owner, "owner@A", dialOptions{}),
		"stay1@B":   dial(t, b, stay1, "stay1@B", dialOptions{}),
		"stay2@A":   dial(t, a, stay2, "stay2@A", dialOptions{}),
		"stay2@B":   dial(t, b, stay2, "stay2@B", dialOptions{}),
		"leaver@A":  dial(t, a, leaver, "leaver@A", dialOptions{}),
		"leaver@B":  dial(t, b, leaver, "leaver@B", dialOptions{}),
		"joiner1@B": dial(t, b, joiner1, "joiner1@B", dialOptions{}),
		"joiner2@A": dial(t, a, joiner2, "joiner2@A", dialOptions{}),
	}
	for _, c := range conns {
		c.hello()
	}
	// Membership changes between sends, while earlier messages are still
	// on their way to the connections.
	const total = 120
	for i := 1; i <= total; i++ {
		from := owner
		if i%2 == 0 {
			from = stay1
		}
		e.send(from, g.ID, fmt.Sprintf("m%d", i))
		switch i {
		case 40:
			if err := e.app.Commands.RemoveMember.Handle(context.Background(),
				command.RemoveMember{Actor: owner.actor(), ChatID: g.ID, UserID: leaver.ID}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.app.Commands.AddMembers.Handle(context.Background(),
				command.AddMembers{Actor: owner.actor(), ChatID: g.ID, UserIDs: []int64{joiner1.ID}}); err != nil {
				t.Fatal(err)
			}
		case 80:
			if _, err := e.app.Commands.AddMembers.Handle(context.Background(),
				command.AddMembers{Actor: owner.actor(), ChatID: g.ID, UserIDs: []int64{joiner2.ID}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, c := range conns {
		if name[:6] == "leaver" {
			c.waitFor("removal", isMemberEvent("chat.member_removed", g.ID, leaver.ID))
			continue
		}
		c.waitFor("the last message", isCreated(g.ID, total))
	}
	// A marker after everything: the leaver hears nothing more of g.
	e.send(owner, g.ID, "after")
	for name, c := range conns {
		if name[:6] != "leaver" {
			c.waitFor("the marker", isCreated(g.ID, total+1))
		}
	}
	for name, c := range conns {
		var seqs []int64
		started := name[:6] != "joiner"
		for _, f := range c.snapshot() {
			switch {
			case f.Type == "chat.member_added" && f.chatOf() == g.ID && !started:
				started = true
			case f.Type == "message.created" && f.chatOf() == g.ID:
				if !started {
					t.Fatalf("%s got a message before its addition", name)
				}
				var m struct {
					Seq int64 `json:"seq"`
				}
				f.decode(t, &m)
				seqs = append(seqs, m.Seq)
			case f.Type == "chat.member_removed" && f.chatOf() == g.ID && name[:6] == "leaver":
				started = false // nothing after it
			}
		}
		if len(seqs) == 0 {
			t.Fatalf("%s got no message", name)
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] != seqs[i-1]+1 {
				t.Fatalf("%s: seq %d after %d (duplicate, gap or reorder): %v", name, seqs[i], seqs[i-1], seqs)
			}
		}
		first, last := seqs[0], seqs[len(seqs)-1]
		switch name[:6] {
		case "leaver":
			if first != 1 || last != 40 {
				t.Fatalf("%s: seqs %d..%d", name, first, last)
			}
		case "joiner":
			if last != total+1 || first <= 40 {
				t.Fatalf("%s: seqs %d..%d", name, first, last)
			}
		default:
			if first != 1 || last != total+1 {
				t.Fatalf("%s: seqs %d..%d", name, first, last)
			}
		}
	}
}
