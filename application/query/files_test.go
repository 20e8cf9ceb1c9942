package query_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
)

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

func TestFileLinks(t *testing.T) {
	clock := &fixedClock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	links := query.NewFileLinks([]byte(strings.Repeat("k", 32)), time.Hour, clock)
	raw := links.URL(query.LinkContent, 42)
	u, err := url.Parse(raw)
	if err != nil || u.Path != "/api/v1/files/42/content" {
		t.Fatalf("url %q", raw)
	}
	exp, sig := u.Query().Get("exp"), u.Query().Get("sig")
	if want := strconv.FormatInt(clock.t.Add(time.Hour).Unix(), 10); exp != want {
		t.Fatalf("exp %s, want %s", exp, want)
	}
	tests := []struct {
		name      string
		kind      string
		id        int64
		exp, sig  string
		after     time.Duration
		wantValid bool
	}{
		{"valid", query.LinkContent, 42, exp, sig, 0, true},
		{"valid until the last second", query.LinkContent, 42, exp, sig, time.Hour, true},
		{"expired", query.LinkContent, 42, exp, sig, time.Hour + time.Second, false},
		{"other file", query.LinkContent, 43, exp, sig, 0, false},
		{"other kind", query.LinkThumbnail, 42, exp, sig, 0, false},
		{"later expiry", query.LinkContent, 42, exp + "0", sig, 0, false},
		{"tampered signature", query.LinkContent, 42, exp, "x" + sig[1:], 0, false},
		{"no signature", query.LinkContent, 42, exp, "", 0, false},
		{"no expiry", query.LinkContent, 42, "", sig, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fixedClock{t: clock.t.Add(tt.after)}
			l := query.NewFileLinks([]byte(strings.Repeat("k", 32)), time.Hour, c)
			err := l.Check(tt.kind, tt.id, tt.exp, tt.sig)
			if tt.wantValid != (err == nil) || err != nil && !errs.Is(err, errs.NotFound) {
				t.Fatalf("Check = %v, valid want %v", err, tt.wantValid)
			}
		})
	}
	other := query.NewFileLinks([]byte(strings.Repeat("o", 32)), time.Hour, clock)
	if other.Check(query.LinkContent, 42, exp, sig) == nil {
		t.Fatal("a link signed with another key was accepted")
	}
}
