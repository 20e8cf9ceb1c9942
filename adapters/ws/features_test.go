package ws_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/application/command"
)

// user.updated is recorded once per chat the user is in; a connection
// that shares several of those chats with the user gets it once, and one
// that shares a single chat gets it too.
func TestUserUpdatedOncePerConnection(t *testing.T) {
	t.Parallel()
	e, bus := newMemEnv(t, memapp.Options{})
	s := e.start(bus, serverOptions{})
	us := e.users(3)
	alice, bob, carol := us[0], us[1], us[2]
	e.group(alice, bob)
	second, third := e.group(alice, bob, carol), e.group(alice, bob)

	bobConn := dial(t, s, bob, "bob", dialOptions{})
	bobConn.hello()
	bobPhone := dial(t, s, e.signIn(bob), "bob's phone", dialOptions{})
	bobPhone.hello()
	carolConn := dial(t, s, carol, "carol", dialOptions{})
	carolConn.hello()

	for i, name := range []string{"Alice Liddell", "Alice Kingsleigh"} {
		n := name
		if _, err := e.app.Commands.UpdateProfile.Handle(context.Background(), command.UpdateProfile{Actor: alice.actor(), Fullname: &n}); err != nil {
			t.Fatalf("update profile: %v", err)
		}
		// A message sent after the update, in the last chat, comes after
		// every copy of it: once it is there, no copy is still on its way.
		m := e.send(alice, third.ID, "marker")
		for _, c := range []*client{bobConn, bobPhone} {
			c.waitFor("the marker", isCreated(third.ID, m.Seq))
		}
		m = e.send(alice, second.ID, "marker")
		carolConn.waitFor("the marker", isCreated(second.ID, m.Seq))
		for _, c := range []*client{bobConn, bobPhone, carolConn} {
			got := c.count(isUserUpdated(alice.ID, name))
			if got != 1 {
				t.Errorf("update %d: %s got user.updated %d times, want once (%s)", i+1, c.name, got, c.describe())
			}
		}
	}
}

func isUserUpdated(userID int64, fullname string) func(frame) bool {
	return func(f frame) bool {
		if f.Type != "user.updated" {
			return false
		}
		var u struct {
			ID       int64  `json:"id"`
			Fullname string `json:"fullname"`
		}
		return json.Unmarshal(f.Data, &u) == nil && u.ID == userID && u.Fullname == fullname
	}
}
