package command_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/application/command"
	"github.com/fechatter/fechatter/domain/errs"
)

// Sign-up, sign-in, refresh, logout and password change on the memory
// adapters: validation, credentials, token rotation and reuse, and the
// failure limits.

const password = "correct-horse"

// account is a member of w's workspace with a known password and its
// session.
type account struct {
	actor command.Actor
	email string
	auth  command.AuthResult
}

func (w *world) account() account {
	w.t.Helper()
	email := fmt.Sprintf("acct%d@x.test", seq.Add(1))
	res, err := w.app.Commands.SignUp.Handle(w.ctx, command.SignUp{Email: email, Password: password, Fullname: "A",
		Workspace: w.workspace, InviteCode: w.invite(), ClientIP: uniqueIP()})
	if err != nil {
		w.t.Fatalf("sign up: %v", err)
	}
	return account{actor: w.actorOf(res), email: email, auth: res}
}

// actorOf is the caller an access token names, as the HTTP adapter sees it.
func (w *world) actorOf(res command.AuthResult) command.Actor {
	w.t.Helper()
	c, err := w.env.Tokens.Verify(res.AccessToken)
	if err != nil {
		w.t.Fatalf("access token: %v", err)
	}
	return command.Actor{UserID: c.UserID, WorkspaceID: c.WorkspaceID, SessionID: c.SessionID}
}

func (w *world) signIn(email, pw, ip string) (command.AuthResult, error) {
	return w.app.Commands.SignIn.Handle(w.ctx, command.SignIn{Email: email, Password: pw, ClientIP: ip})
}

func (w *world) refresh(token string) (command.AuthResult, error) {
	return w.app.Commands.RefreshSession.Handle(w.ctx, command.RefreshSession{RefreshToken: token})
}

// works reports whether a refresh token still works (it is then rotated:
// the caller gets the next one).
func (w *world) works(token string) (string, bool) {
	res, err := w.refresh(token)
	return res.RefreshToken, err == nil
}

func TestSignUp(t *testing.T) {
	signUp := func(email, pw, name, ws func(*world) string, invite func(*world) string) func(*world) error {
		return func(w *world) error {
			res, err := w.app.Commands.SignUp.Handle(w.ctx, command.SignUp{Email: email(w), Password: pw(w), Fullname: name(w),
				Workspace: ws(w), InviteCode: invite(w), ClientIP: "10.0.0.1"})
			if err == nil && (res.AccessToken == "" || res.RefreshToken == "" || res.User.ID == 0) {
				return fmt.Errorf("signed up without a session: %+v", res)
			}
			return err
		}
	}
	val := func(s string) func(*world) string { return func(*world) string { return s } }
	fresh := func(*world) string { return fmt.Sprintf("new%d@x.test", seq.Add(1)) }
	newWS := func(*world) string { return fmt.Sprintf("new-ws-%d", seq.Add(1)) }
	theWS := func(w *world) string { return w.workspace }
	invite := func(w *world) string { return w.invite() }
	none := val("")
	pw, name := val(password), val("New Person")
	runCases(t, []commandCase{
		{"a new workspace", ok, signUp(fresh, pw, name, newWS, none)},
		{"join with an invite", ok, signUp(fresh, pw, name, theWS, invite)},
		{"join without an invite", errs.Conflict, signUp(fresh, pw, name, theWS, none)},
		{"join with a wrong invite", errs.Conflict, signUp(fresh, pw, name, theWS, val("not-a-code"))},
		{"email taken, in other case", errs.Conflict, signUp(func(w *world) string { return strings.ToUpper(w.account().email) }, pw, name, newWS, none)},
		{"not an email", errs.Invalid, signUp(val("nobody"), pw, name, newWS, none)},
		{"short password", errs.Invalid, signUp(fresh, val("short"), name, newWS, none)},
		{"blank full name", errs.Invalid, signUp(fresh, pw, val("   "), newWS, none)},
		{"blank workspace", errs.Invalid, signUp(fresh, pw, name, val(" "), none)},
	})
}

func TestSignUpLimits(t *testing.T) {
	t.Parallel()
	w := newWorldWith(t, memapp.Options{SignUpPerAddress: 2})
	up := func(ip, invite string) error {
		_, err := w.app.Commands.SignUp.Handle(w.ctx, command.SignUp{Email: fmt.Sprintf("lim%d@x.test", seq.Add(1)), Password: password,
			Fullname: "L", Workspace: w.workspace, InviteCode: invite, ClientIP: ip})
		return err
	}
	// Two an hour per address; another address has its own allowance.
	for i := range 2 {
		if err := up("10.1.1.1", w.invite()); err != nil {
			t.Fatalf("sign-up %d from a new address: %v", i+1, err)
		}
	}
	if err := up("10.1.1.1", w.invite()); errs.KindOf(err) != errs.RateLimited {
		t.Fatalf("third sign-up from 10.1.1.1: %v, want rate limited", err)
	}
	if err := up("10.1.1.2", w.invite()); err != nil {
		t.Fatalf("sign-up from another address: %v", err)
	}

	// Wrong invite codes: five are free per address, then even a right
	// one waits (guessing codes is slowed down).
	for i := range 6 {
		if err := up(fmt.Sprintf("10.2.2.%d", i), "guess"); errs.KindOf(err) != errs.Conflict {
			t.Fatalf("wrong code from a fresh address: %v, want conflict", err)
		}
	}
	w2 := newWorldWith(t, memapp.Options{})
	upW2 := func(code string) error {
		_, err := w2.app.Commands.SignUp.Handle(w2.ctx, command.SignUp{Email: fmt.Sprintf("g%d@x.test", seq.Add(1)), Password: password,
			Fullname: "G", Workspace: w2.workspace, InviteCode: code, ClientIP: "10.3.3.3"})
		return err
	}
	for i := range 6 {
		if err := upW2(fmt.Sprintf("guess-%d", i)); errs.KindOf(err) != errs.Conflict {
			t.Fatalf("wrong code %d: %v, want conflict", i+1, err)
		}
	}
	if err := upW2(w2.invite()); errs.KindOf(err) != errs.RateLimited {
		t.Fatalf("right code after six wrong ones: %v, want rate limited", err)
	}
}

func TestSignIn(t *testing.T) {
	in := func(email func(*world) string, pw string) func(*world) error {
		return func(w *world) error {
			res, err := w.signIn(email(w), pw, "10.0.0.1")
			if err == nil && w.actorOf(res).UserID == 0 {
				return fmt.Errorf("signed in without a user")
			}
			return err
		}
	}
	acct := func(w *world) string { return w.account().email }
	runCases(t, []commandCase{
		{"right password", ok, in(acct, password)},
		{"email in other case and spaces", ok, in(func(w *world) string { return "  " + strings.ToUpper(w.account().email) }, password)},
		{"wrong password", errs.Unauthenticated, in(acct, "wrong-horse")},
		{"unknown email", errs.Unauthenticated, in(func(*world) string { return "nobody@x.test" }, password)},
		{"no password", errs.Invalid, in(acct, "")},
		{"not an email", errs.Invalid, in(func(*world) string { return "nobody" }, password)},
	})
}

func TestSignInLimits(t *testing.T) {
	t.Parallel()
	w := newWorldWith(t, memapp.Options{SignInPerEmail: 2, SignInPerAddress: 4})
	a, b := w.account(), w.account()
	// A success never counts, and clears the email's failures.
	for range 3 {
		if _, err := w.signIn(a.email, password, "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if _, err := w.signIn(a.email, "wrong-horse", "10.0.0.1"); errs.KindOf(err) != errs.Unauthenticated {
			t.Fatalf("failure %d: %v, want unauthenticated", i+1, err)
		}
	}
	// Three failures with two free: the email waits, even with the right
	// password and from another address.
	if _, err := w.signIn(a.email, password, "10.9.9.9"); errs.KindOf(err) != errs.RateLimited {
		t.Fatalf("right password after 3 failures: %v, want rate limited", err)
	}
	// The address has one more free failure, on another email; then it
	// waits for every email.
	if _, err := w.signIn(b.email, "wrong-horse", "10.0.0.1"); errs.KindOf(err) != errs.Unauthenticated {
		t.Fatalf("fourth failure from the address: %v", err)
	}
	if _, err := w.signIn(b.email, "wrong-horse", "10.0.0.1"); errs.KindOf(err) != errs.Unauthenticated {
		t.Fatalf("fifth failure from the address: %v", err)
	}
	if _, err := w.signIn(b.email, password, "10.0.0.1"); errs.KindOf(err) != errs.RateLimited {
		t.Fatalf("right password from an address past its failures: %v, want rate limited", err)
	}
	if _, err := w.signIn(b.email, password, "10.0.0.2"); err != nil {
		t.Fatalf("b from another address: %v", err)
	}
}

func TestRefreshAndLogout(t *testing.T) {
	runCases(t, []commandCase{
		{"rotate", ok, func(w *world) error {
			a := w.account()
			next, err := w.refresh(a.auth.RefreshToken)
			if err != nil {
				return err
			}
			if next.RefreshToken == a.auth.RefreshToken || w.actorOf(next).SessionID != a.actor.SessionID {
				return fmt.Errorf("rotation gave %+v; want a new token of the same session", next)
			}
			_, err = w.refresh(next.RefreshToken)
			return err
		}},
		{"no token", errs.Invalid, func(w *world) error { _, err := w.refresh(""); return err }},
		{"oversized token", errs.Invalid, func(w *world) error { _, err := w.refresh(strings.Repeat("x", 513)); return err }},
		{"unknown token", errs.Unauthenticated, func(w *world) error { _, err := w.refresh("not-a-token"); return err }},
		{"a used token revokes the session", ok, func(w *world) error {
			a := w.account()
			next, ok := w.works(a.auth.RefreshToken)
			if !ok {
				return fmt.Errorf("first refresh failed")
			}
			before := w.pending()
			if _, err := w.refresh(a.auth.RefreshToken); errs.KindOf(err) != errs.Unauthenticated {
				return fmt.Errorf("reuse: %v, want unauthenticated", err)
			}
			if w.pending() != before+1 {
				return fmt.Errorf("reuse recorded %d events, want one session.revoked", w.pending()-before)
			}
			if _, ok := w.works(next); ok {
				return fmt.Errorf("the session's newest token still works after a reuse")
			}
			return nil
		}},
		{"logout", ok, func(w *world) error {
			a := w.account()
			if err := w.app.Commands.Logout.Handle(w.ctx, command.Logout{Actor: a.actor, RefreshToken: a.auth.RefreshToken}); err != nil {
				return err
			}
			if _, ok := w.works(a.auth.RefreshToken); ok {
				return fmt.Errorf("refresh works after logout")
			}
			return nil
		}},
		{"logout without a token", errs.Invalid, func(w *world) error {
			return w.app.Commands.Logout.Handle(w.ctx, command.Logout{Actor: w.m1})
		}},
		{"logout with another user's token revokes nothing", ok, func(w *world) error {
			a, b := w.account(), w.account()
			before := w.pending()
			if err := w.app.Commands.Logout.Handle(w.ctx, command.Logout{Actor: a.actor, RefreshToken: b.auth.RefreshToken}); err != nil {
				return err
			}
			if _, ok := w.works(b.auth.RefreshToken); !ok || w.pending() != before {
				return fmt.Errorf("another user's session was ended")
			}
			return nil
		}},
		{"logout twice", ok, func(w *world) error {
			a := w.account()
			for range 2 {
				if err := w.app.Commands.Logout.Handle(w.ctx, command.Logout{Actor: a.actor, RefreshToken: a.auth.RefreshToken}); err != nil {
					return err
				}
			}
			return nil
		}},
	})
}

func TestChangePassword(t *testing.T) {
	change := func(old, new string) func(*world) error {
		return func(w *world) error {
			a := w.account()
			return w.app.Commands.Sessions.ChangePassword(w.ctx, command.ChangePassword{Actor: a.actor, OldPassword: old, NewPassword: new})
		}
	}
	runCases(t, []commandCase{
		{"no old password", errs.Invalid, change("", "new-password-1")},
		{"weak new password", errs.Invalid, change(password, "short")},
		{"wrong old password", errs.Unauthenticated, change("wrong-horse", "new-password-1")},
		{"change ends the other sessions only", ok, func(w *world) error {
			a := w.account()
			other, err := w.signIn(a.email, password, "10.0.0.1")
			if err != nil {
				return err
			}
			if err := w.app.Commands.Sessions.ChangePassword(w.ctx, command.ChangePassword{Actor: a.actor, OldPassword: password, NewPassword: "new-password-1"}); err != nil {
				return err
			}
			if _, ok := w.works(other.RefreshToken); ok {
				return fmt.Errorf("the other session survived the change")
			}
			if _, ok := w.works(a.auth.RefreshToken); !ok {
				return fmt.Errorf("the changing session was ended")
			}
			if _, err := w.signIn(a.email, password, "10.0.0.1"); errs.KindOf(err) != errs.Unauthenticated {
				return fmt.Errorf("old password still signs in: %v", err)
			}
			_, err = w.signIn(a.email, "new-password-1", "10.0.0.1")
			return err
		}},
		{"logout everywhere", ok, func(w *world) error {
			a := w.account()
			other, err := w.signIn(a.email, password, "10.0.0.1")
			if err != nil {
				return err
			}
			if err := w.app.Commands.Sessions.LogoutAll(w.ctx, command.LogoutAll{Actor: a.actor}); err != nil {
				return err
			}
			for _, tok := range []string{a.auth.RefreshToken, other.RefreshToken} {
				if _, ok := w.works(tok); ok {
					return fmt.Errorf("a session survived logout everywhere")
				}
			}
			return nil
		}},
	})
	runCasesWith(t, memapp.Options{SignInPerEmail: 1}, []commandCase{
		{"wrong old passwords are limited", errs.RateLimited, func(w *world) error {
			a := w.account()
			for range 2 {
				err := w.app.Commands.Sessions.ChangePassword(w.ctx, command.ChangePassword{Actor: a.actor, OldPassword: "wrong-horse", NewPassword: "new-password-1"})
				if errs.KindOf(err) != errs.Unauthenticated {
					return fmt.Errorf("wrong old password: %v", err)
				}
			}
			return w.app.Commands.Sessions.ChangePassword(w.ctx, command.ChangePassword{Actor: a.actor, OldPassword: password, NewPassword: "new-password-1"})
		}},
	})
}
