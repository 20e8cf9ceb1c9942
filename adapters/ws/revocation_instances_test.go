package ws_test

import (
	"context"
	"testing"

	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/adapters/ws"
	"github.com/fechatter/fechatter/application/command"
)

// A session signed out on one instance has its sockets closed with 4001 on
// every instance (session.revoked travels on the user's subject over NATS),
// and its token no longer opens a socket on either; the user's other
// session stays connected on both.
func TestRevokedSessionClosesItsSocketsOnEveryInstance(t *testing.T) {
	t.Parallel()
	pub, subscriber := natsBus(t)
	e := newEnv(t, memapp.Options{}, pub)
	a := e.start(subscriber("instance-a"), serverOptions{})
	b := e.start(subscriber("instance-b"), serverOptions{})
	bob := e.users(1)[0]
	bob2 := e.signIn(bob) // another session of the same user

	onA := dial(t, a, bob, "session 1 on A", dialOptions{})
	onB := dial(t, b, bob, "session 1 on B", dialOptions{})
	otherA := dial(t, a, bob2, "session 2 on A", dialOptions{})
	otherB := dial(t, b, bob2, "session 2 on B", dialOptions{})
	for _, c := range []*client{onA, onB, otherA, otherB} {
		c.hello()
	}
	if err := e.app.Commands.Logout.Handle(context.Background(), command.Logout{Actor: bob.actor(), RefreshToken: bob.Refresh}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{onA, onB} {
		if ce := c.waitClosed(); ce.Code != ws.CloseSessionRevoked {
			t.Fatalf("%s: closed with %d %q, want 4001", c.name, ce.Code, ce.Text)
		}
	}
	for _, s := range []*server{a, b} {
		c, resp, err := dialRaw(s, bob.Token, dialOptions{})
		if err == nil {
			_ = c.Close()
			t.Fatal("the revoked session's token opened a socket")
		}
		if resp == nil || resp.StatusCode != 401 {
			t.Fatalf("the revoked session's token: %v (%v), want 401", err, resp)
		}
	}
	otherA.roundTrip()
	otherB.roundTrip()
}
