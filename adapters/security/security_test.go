package security_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/security"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func TestArgon2HashVerifies(t *testing.T) {
	h := security.NewArgon2Hasher(security.FastArgon2)
	hash, err := h.Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, "correct") {
		t.Fatalf("hash %q does not look like an argon2id PHC string", hash)
	}
	if !h.Verify(hash, "correct horse battery") {
		t.Error("right password rejected")
	}
	for _, bad := range []string{"correct horse batterY", "", "correct horse battery "} {
		if h.Verify(hash, bad) {
			t.Errorf("wrong password %q accepted", bad)
		}
	}
	// A hash made with other costs still verifies: the costs travel with it.
	if !security.NewArgon2Hasher(security.DefaultArgon2).Verify(hash, "correct horse battery") {
		t.Error("hash did not verify under other default costs")
	}
	for _, garbage := range []string{"", "$argon2id$", "$bcrypt$x$y$z$w", hash[:len(hash)-4] + "!!!!"} {
		if h.Verify(garbage, "correct horse battery") {
			t.Errorf("garbage hash %q verified", garbage)
		}
	}
}

func TestJWTRoundTripAndExpiry(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	j, err := security.NewJWTIssuer([]byte(strings.Repeat("k", 32)), 15*time.Minute, c)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := j.Issue(ports.AccessClaims{UserID: 7, WorkspaceID: 3, SessionID: "fam", ExpiresAt: c.t.Add(j.TTL())})
	if err != nil {
		t.Fatal(err)
	}
	got, err := j.Verify(tok)
	if err != nil || got.UserID != 7 || got.WorkspaceID != 3 || got.SessionID != "fam" {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	other, _ := security.NewJWTIssuer([]byte(strings.Repeat("x", 32)), time.Minute, c)
	if _, err := other.Verify(tok); !errs.Is(err, errs.Unauthenticated) {
		t.Errorf("token signed with another key: %v", err)
	}
	if _, err := j.Verify(tok + "x"); !errs.Is(err, errs.Unauthenticated) {
		t.Errorf("tampered token: %v", err)
	}
	c.t = c.t.Add(16 * time.Minute)
	if _, err := j.Verify(tok); !errs.Is(err, errs.Unauthenticated) {
		t.Errorf("expired token: %v", err)
	}
	if _, err := security.NewJWTIssuer([]byte("short"), time.Minute, c); err == nil {
		t.Error("short secret accepted")
	}
}

// sessionsDB is a SessionLookup whose database can be made unreachable.
type sessionsDB struct {
	revoked map[string]bool
	down    bool
}

func (d *sessionsDB) FamilyRevoked(_ context.Context, family string) (bool, error) {
	if d.down {
		return false, errors.New("connection refused")
	}
	return d.revoked[family], nil
}

// While the database is away, a session found live in the last 30 s stays
// accepted (no revocation can be written meanwhile); one never seen, or
// seen too long ago, is unavailable (503); an ended one stays refused.
func TestSessionCheckRidesThroughADatabaseOutage(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
	j, err := security.NewJWTIssuer([]byte(strings.Repeat("k", 32)), time.Hour, c)
	if err != nil {
		t.Fatal(err)
	}
	db := &sessionsDB{revoked: map[string]bool{"gone": true}}
	tokens := security.NewSessionCheckedTokens(j, db, 0, c)
	issue := func(family string) string {
		tok, err := j.Issue(ports.AccessClaims{UserID: 1, WorkspaceID: 1, SessionID: family, ExpiresAt: c.t.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	live, other, gone := issue("live"), issue("other"), issue("gone")
	for _, tok := range []string{live, gone} {
		_, _ = tokens.Verify(tok) // looked up once while the database answers
	}
	db.down = true
	c.t = c.t.Add(10 * time.Second)
	if _, err := tokens.Verify(live); err != nil {
		t.Fatalf("a session live 10 s ago, database away: %v; want accepted", err)
	}
	if _, err := tokens.Verify(other); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("a session never checked, database away: %v; want unavailable", err)
	}
	if _, err := tokens.Verify(gone); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("an ended session, database away: %v; want refused", err)
	}
	c.t = c.t.Add(31 * time.Second)
	if _, err := tokens.Verify(live); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("a session last checked 41 s ago, database away: %v; want unavailable", err)
	}
	db.down = false
	db.revoked["live"] = true
	if _, err := tokens.Verify(live); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("a session ended while away, database back: %v; want refused at once", err)
	}
}
