package presence_test

import (
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/presence"
)

var t0 = time.Date(2026, 11, 25, 19, 33, 47, 123456000, time.UTC)

var rules = presence.Rules{AwayAfter: 5 * time.Minute, Grace: 25 * time.Second}

// step is one thing that happens to a user's connections at t0+at.
type step struct {
	at      time.Duration
	do      string // connect, disconnect, touch, declare
	conn    string // "" with touch: a REST write
	arg     string // platform for connect, status for declare
	want    presence.Status
	wantPf  string        // platform shown, if not ""
	seen    time.Duration // want LastSeen = t0+seen; -1: zero
	gone    bool
	wantErr errs.Kind
}

func TestConnectionsStatus(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
	}{
		{name: "never connected", steps: []step{
			{at: 0, do: "state", want: presence.Offline, seen: -1, gone: true},
		}},
		{name: "online, away at 5 idle minutes, online on activity", steps: []step{
			{at: 0, do: "connect", conn: "a", arg: "web", want: presence.Online, wantPf: "web", seen: 0},
			{at: 5*time.Minute - time.Nanosecond, do: "state", want: presence.Online, seen: 0},
			{at: 5 * time.Minute, do: "state", want: presence.Away, seen: 0},
			{at: 6 * time.Minute, do: "touch", conn: "a", want: presence.Online, seen: 6 * time.Minute},
			{at: 11 * time.Minute, do: "state", want: presence.Away, seen: 6 * time.Minute},
		}},
		{name: "offline only after the grace", steps: []step{
			{at: 0, do: "connect", conn: "a", arg: "ios", want: presence.Online, seen: 0},
			{at: time.Minute, do: "disconnect", conn: "a", want: presence.Online, wantPf: "ios", seen: 0},
			{at: time.Minute + 24*time.Second, do: "state", want: presence.Online, seen: 0},
			{at: time.Minute + 25*time.Second, do: "state", want: presence.Offline, wantPf: "ios", seen: 0, gone: true},
		}},
		{name: "an away user stays away during the grace", steps: []step{
			{at: 0, do: "connect", conn: "a", arg: "web", want: presence.Online, seen: 0},
			{at: 6 * time.Minute, do: "disconnect", conn: "a", want: presence.Away, seen: 0},
			{at: 6*time.Minute + 30*time.Second, do: "state", want: presence.Offline, seen: 0, gone: true},
		}},
		{name: "a quick reconnect does not go offline", steps: []step{
			{at: 0, do: "connect", conn: "a", arg: "web", want: presence.Online, seen: 0},
			{at: time.Minute, do: "disconnect", conn: "a", want: presence.Online, seen: 0},
			{at: time.Minute + 3*time.Second, do: "connect", conn: "b", arg: "web", want: presence.Online, seen: time.Minute + 3*time.Second},
			{at: time.Minute + 40*time.Second, do: "state", want: presence.Online},
		}},
		{name: "two devices: online if either is", steps: []step{
			{at: 0, do: "connect", conn: "phone", arg: "ios", want: presence.Online, wantPf: "ios", seen: 0},
			{at: 2 * time.Minute, do: "connect", conn: "laptop", arg: "desktop", want: presence.Online, wantPf: "desktop", seen: 2 * time.Minute},
			{at: 5 * time.Minute, do: "state", want: presence.Online, wantPf: "desktop"}, // phone idle: away
			{at: 7 * time.Minute, do: "state", want: presence.Away, wantPf: "desktop"},
			{at: 8 * time.Minute, do: "touch", conn: "phone", want: presence.Online, wantPf: "ios", seen: 8 * time.Minute},
			{at: 9 * time.Minute, do: "disconnect", conn: "phone", want: presence.Away, wantPf: "desktop", seen: 8 * time.Minute},
			{at: 10 * time.Minute, do: "disconnect", conn: "laptop", want: presence.Away},
			{at: 10*time.Minute + 25*time.Second, do: "state", want: presence.Offline, seen: 8 * time.Minute, gone: true},
		}},
		{name: "activity on an older device does not change the platform shown", steps: []step{
			{at: 0, do: "connect", conn: "a", arg: "web", want: presence.Online, wantPf: "web"},
			{at: time.Second, do: "connect", conn: "b", arg: "ios", want: presence.Online, wantPf: "ios"},
			{at: 2 * time.Second, do: "touch", conn: "a", want: presence.Online, wantPf: "ios", seen: 2 * time.Second},
		}},
		{name: "declared away, back online by declaring", steps: []step{
			{at: 0, do: "connect", conn: "a", arg: "web", want: presence.Online, seen: 0},
			{at: time.Minute, do: "declare", conn: "a", arg: "away", want: presence.Away, seen: time.Minute},
			{at: 2 * time.Minute, do: "touch", conn: "a", want: presence.Away, seen: 2 * time.Minute},
			{at: 3 * time.Minute, do: "declare", conn: "a", arg: "online", want: presence.Online, seen: 3 * time.Minute},
		}},
		{name: "declared away on one device, online on the other", steps: []step{
			{at: 0, do: "connect", conn: "a", arg: "web", want: presence.Online},
			{at: 0, do: "connect", conn: "b", arg: "android", want: presence.Online},
			{at: time.Second, do: "declare", conn: "a", arg: "away", want: presence.Online, wantPf: "android"},
		}},
		{name: "a REST write is activity on every connection", steps: []step{
			{at: 0, do: "connect", conn: "a", arg: "web", want: presence.Online},
			{at: 0, do: "connect", conn: "b", arg: "ios", want: presence.Online},
			{at: 6 * time.Minute, do: "state", want: presence.Away},
			{at: 6 * time.Minute, do: "touch", want: presence.Online, seen: 6 * time.Minute},
		}},
		{name: "a REST write without a connection moves last seen only", steps: []step{
			{at: time.Minute, do: "touch", want: presence.Offline, seen: time.Minute, gone: true},
		}},
		{name: "pings are not activity: nothing but touch moves last seen", steps: []step{
			{at: 0, do: "connect", conn: "a", arg: "web", want: presence.Online, seen: 0},
			{at: 10 * time.Minute, do: "state", want: presence.Away, seen: 0},
		}},
		{name: "bad input", steps: []step{
			{at: 0, do: "connect", conn: "", arg: "web", wantErr: errs.Invalid, want: presence.Offline, gone: true},
			{at: 0, do: "connect", conn: "a", arg: string(make([]byte, 65)), wantErr: errs.Invalid, want: presence.Offline, gone: true},
			{at: 0, do: "connect", conn: "a", arg: "web", want: presence.Online},
			{at: 0, do: "connect", conn: "a", arg: "web", wantErr: errs.Conflict, want: presence.Online},
			{at: 0, do: "declare", conn: "a", arg: "offline", wantErr: errs.Invalid, want: presence.Online},
			{at: 0, do: "disconnect", conn: "unknown", want: presence.Online},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := presence.NewConnections(7)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				var err error
				switch s.do {
				case "connect":
					err = p.Connect(s.conn, s.arg, now)
				case "disconnect":
					p.Disconnect(s.conn, now)
				case "touch":
					p.Touch(s.conn, now)
				case "declare":
					err = p.Declare(s.conn, presence.Status(s.arg), now)
				case "state":
				default:
					t.Fatalf("step %d: unknown action %q", i, s.do)
				}
				if s.wantErr != 0 {
					if !errs.Is(err, s.wantErr) {
						t.Fatalf("step %d (%s): err = %v, want kind %s", i, s.do, err, s.wantErr)
					}
				} else if err != nil {
					t.Fatalf("step %d (%s): %v", i, s.do, err)
				}
				got := p.State(now, rules)
				if got.Status != s.want {
					t.Fatalf("step %d (%s at %s): status %s, want %s", i, s.do, s.at, got.Status, s.want)
				}
				if s.wantPf != "" && got.Platform != s.wantPf {
					t.Fatalf("step %d (%s): platform %q, want %q", i, s.do, got.Platform, s.wantPf)
				}
				switch {
				case s.seen < 0 && !got.LastSeen.IsZero():
					t.Fatalf("step %d: last seen %s, want none", i, got.LastSeen)
				case s.seen > 0 && !got.LastSeen.Equal(t0.Add(s.seen)):
					t.Fatalf("step %d: last seen %s, want t0+%s", i, got.LastSeen, s.seen)
				}
				if gone := p.Gone(now, rules); gone != s.gone {
					t.Fatalf("step %d: gone = %v, want %v", i, gone, s.gone)
				}
			}
		})
	}
}

func TestNewConnectionsRefusesBadUser(t *testing.T) {
	if _, err := presence.NewConnections(0); !errs.Is(err, errs.Invalid) {
		t.Fatalf("err = %v, want invalid", err)
	}
}

func TestDisconnectReportsTheLastConnection(t *testing.T) {
	p, _ := presence.NewConnections(1)
	_ = p.Connect("a", "web", t0)
	_ = p.Connect("b", "ios", t0)
	if p.Disconnect("a", t0) {
		t.Fatal("closing a with b open reported the last connection")
	}
	if !p.Disconnect("b", t0) {
		t.Fatal("closing b did not report the last connection")
	}
	if p.Disconnect("b", t0) {
		t.Fatal("closing b twice reported the last connection again")
	}
}

func TestParseDeclared(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want presence.Status
		ok   bool
	}{{"online", presence.Online, true}, {"away", presence.Away, true}, {"offline", "", false}, {"", "", false}, {"Online", "", false}} {
		got, err := presence.ParseDeclared(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDeclared(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestMerge(t *testing.T) {
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	cases := []struct {
		name    string
		entries []presence.Entry
		want    presence.Entry
	}{
		{name: "none is offline, last seen unknown", want: presence.Entry{Status: presence.Offline}},
		{name: "online beats away", entries: []presence.Entry{
			{Status: presence.Away, Platform: "web", LastSeen: at(time.Minute)},
			{Status: presence.Online, Platform: "ios", LastSeen: at(0)},
		}, want: presence.Entry{Status: presence.Online, Platform: "ios", LastSeen: at(time.Minute)}},
		{name: "equal status: the most recent platform", entries: []presence.Entry{
			{Status: presence.Away, Platform: "web", LastSeen: at(0)},
			{Status: presence.Away, Platform: "cli", LastSeen: at(time.Second)},
		}, want: presence.Entry{Status: presence.Away, Platform: "cli", LastSeen: at(time.Second)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := presence.Merge(tc.entries...)
			if got.Status != tc.want.Status || got.Platform != tc.want.Platform || !got.LastSeen.Equal(tc.want.LastSeen) {
				t.Fatalf("Merge = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRulesDefaults(t *testing.T) {
	r := presence.Rules{}.WithDefaults()
	if r != presence.DefaultRules {
		t.Fatalf("defaults = %+v", r)
	}
	r = presence.Rules{AwayAfter: time.Minute, Grace: time.Second}.WithDefaults()
	if r.AwayAfter != time.Minute || r.Grace != time.Second {
		t.Fatalf("set rules were changed: %+v", r)
	}
}

// NextChange is when State or Gone would next change with no input: no
// earlier (State and Gone hold until then), and something does change then.
func TestNextChange(t *testing.T) {
	type op func(p *presence.Connections)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	connect := func(id string, d time.Duration) op {
		return func(p *presence.Connections) { _ = p.Connect(id, "web", at(d)) }
	}
	disconnect := func(id string, d time.Duration) op {
		return func(p *presence.Connections) { p.Disconnect(id, at(d)) }
	}
	declareAway := func(id string, d time.Duration) op {
		return func(p *presence.Connections) { _ = p.Declare(id, presence.Away, at(d)) }
	}
	cases := []struct {
		name string
		ops  []op
		now  time.Duration
		want time.Duration // -1: zero, nothing changes without input
	}{
		{"never connected", nil, 0, -1},
		{"online: turns away 5 minutes after the activity", []op{connect("a", 0)}, time.Minute, 5 * time.Minute},
		{"away already: nothing more", []op{connect("a", 0)}, 6 * time.Minute, -1},
		{"declared away: nothing more", []op{connect("a", 0), declareAway("a", time.Minute)}, 2 * time.Minute, -1},
		{"two devices: the later one turns away last", []op{connect("a", 0), connect("b", 2*time.Minute)}, 5 * time.Minute, 7 * time.Minute},
		{"closed: the grace ends", []op{connect("a", 0), disconnect("a", time.Minute)}, time.Minute, time.Minute + 25*time.Second},
		{"closed just before turning away: away within the grace first",
			[]op{connect("a", 0), disconnect("a", 4*time.Minute+50*time.Second)}, 4*time.Minute + 50*time.Second, 5 * time.Minute},
		{"closed while away: the grace ends", []op{connect("a", 0), disconnect("a", 6*time.Minute)}, 6 * time.Minute, 6*time.Minute + 25*time.Second},
		{"the grace is over: nothing more", []op{connect("a", 0), disconnect("a", time.Minute)}, 2 * time.Minute, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := presence.NewConnections(1)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range tc.ops {
				o(p)
			}
			now := at(tc.now)
			got := p.NextChange(now, rules)
			if tc.want < 0 {
				if !got.IsZero() {
					t.Fatalf("NextChange = %s, want none", got.Sub(t0))
				}
				return
			}
			if !got.Equal(at(tc.want)) {
				t.Fatalf("NextChange = t0+%s, want t0+%s", got.Sub(t0), tc.want)
			}
			// Nothing changes before it; something does at it.
			state, gone := p.State(now, rules), p.Gone(now, rules)
			for _, d := range []time.Duration{time.Nanosecond, (got.Sub(now)) / 2, got.Sub(now) - time.Nanosecond} {
				if s, g := p.State(now.Add(d), rules), p.Gone(now.Add(d), rules); s != state || g != gone {
					t.Fatalf("at now+%s, before NextChange: state %+v gone %v, was %+v %v", d, s, g, state, gone)
				}
			}
			if s, g := p.State(got, rules), p.Gone(got, rules); s == state && g == gone {
				t.Fatalf("at NextChange nothing changed: %+v %v", s, g)
			}
		})
	}
}
