// Package presence holds the Presence aggregate: one user's connections on
// one server instance, their activity and the status derived from them and
// a clock (online, away after AwayAfter idle, offline once no connection is
// left and a short grace has passed); how the instances' views of a user
// merge; and the typing state of a user in a chat, with its expiry and
// broadcast throttle. Nothing here is stored but last seen times.
package presence

import (
	"time"

	"github.com/fechatter/fechatter/domain/errs"
)

// Status is a user's presence status.
type Status string

const (
	Online  Status = "online"
	Away    Status = "away"
	Offline Status = "offline"
)

// rank orders statuses: the merged status of several devices or instances
// is the highest.
func (s Status) rank() int {
	switch s {
	case Online:
		return 2
	case Away:
		return 1
	default:
		return 0
	}
}

// ParseDeclared parses the status a client declares for its connection:
// online or away (offline is what disconnecting says).
func ParseDeclared(s string) (Status, error) {
	switch Status(s) {
	case Online, Away:
		return Status(s), nil
	}
	return "", errs.Invalidf("status must be \"online\" or \"away\"")
}

// Rules are the timings of presence.
type Rules struct {
	// AwayAfter turns a connection away when nothing was done on it for
	// this long. Default 5 minutes.
	AwayAfter time.Duration
	// Grace keeps a user whose last connection closed as they were for
	// this long, so that a quick reconnect does not show them offline and
	// back. At most one heartbeat interval. Default 25 seconds.
	Grace time.Duration
}

// DefaultRules are API.md's: away after 5 idle minutes, offline one
// heartbeat interval (25 s by default) after the last connection closed.
var DefaultRules = Rules{AwayAfter: 5 * time.Minute, Grace: 25 * time.Second}

// WithDefaults fills zero fields from DefaultRules.
func (r Rules) WithDefaults() Rules {
	if r.AwayAfter <= 0 {
		r.AwayAfter = DefaultRules.AwayAfter
	}
	if r.Grace < 0 {
		r.Grace = 0
	}
	if r.Grace == 0 {
		r.Grace = DefaultRules.Grace
	}
	return r
}

// MaxPlatformLength bounds a platform name, in bytes.
const MaxPlatformLength = 64

// Entry is what one server instance says of a user, or what all of them
// say together once merged: the status, the platform shown (see State)
// and the last activity (zero if unknown).
type Entry struct {
	Status   Status
	Platform string
	LastSeen time.Time
}

// Merge combines the instances' entries of one user: online if any is,
// else away if any is, else offline; last seen is the latest, and the
// platform is that of the entry with the best status, the most recently
// active among equals. No entry at all is offline with an unknown last seen.
func Merge(entries ...Entry) Entry {
	out := Entry{Status: Offline}
	for _, e := range entries {
		if e.LastSeen.After(out.LastSeen) {
			out.LastSeen = e.LastSeen
		}
	}
	var best *Entry
	for i := range entries {
		e := &entries[i]
		if best == nil || e.Status.rank() > best.Status.rank() ||
			e.Status.rank() == best.Status.rank() && e.LastSeen.After(best.LastSeen) {
			best = e
		}
	}
	if best != nil {
		out.Status, out.Platform = best.Status, best.Platform
	}
	return out
}

// connection is one open (or, within the grace, just closed) connection.
type connection struct {
	id           string
	platform     string
	connectedAt  time.Time
	lastActivity time.Time
	away         bool // the client declared away
}

// before orders connections by latest connection first, then by id: the
// platform shown changes when devices come and go or change status, not
// with every keystroke on one of two open devices.
func (c *connection) before(o *connection) bool {
	if !c.connectedAt.Equal(o.connectedAt) {
		return c.connectedAt.After(o.connectedAt)
	}
	return c.id < o.id
}

func (c *connection) status(now time.Time, r Rules) Status {
	if c.away || now.Sub(c.lastActivity) >= r.AwayAfter {
		return Away
	}
	return Online
}

// Connections is the Presence aggregate: one user's connections on one
// server instance. It is not safe for concurrent use.
type Connections struct {
	userID   int64
	open     map[string]*connection
	lastSeen time.Time
	platform string // of the latest activity

	// The last connection to close, kept for the grace; nil while any is
	// open or once the grace is over.
	last   *connection
	leftAt time.Time
}

// NewConnections returns the presence of a user with no connection.
func NewConnections(userID int64) (*Connections, error) {
	if userID <= 0 {
		return nil, errs.Invalidf("user id must be positive")
	}
	return &Connections{userID: userID, open: make(map[string]*connection)}, nil
}

func (p *Connections) UserID() int64 { return p.userID }

// Open is the number of open connections.
func (p *Connections) Open() int { return len(p.open) }

// LastSeen is the time of the user's last activity seen here (zero if none).
func (p *Connections) LastSeen() time.Time { return p.lastSeen }

// Platform is the platform of the user's latest activity here.
func (p *Connections) Platform() string { return p.platform }

// Connect opens connection id from platform: opening is activity.
func (p *Connections) Connect(id, platform string, now time.Time) error {
	if id == "" {
		return errs.Invalidf("connection id is required")
	}
	if len(platform) > MaxPlatformLength {
		return errs.Invalidf("platform must be at most %d bytes", MaxPlatformLength)
	}
	if _, ok := p.open[id]; ok {
		return errs.Conflictf("connection %s is open already", id)
	}
	c := &connection{id: id, platform: platform, connectedAt: now}
	p.open[id] = c
	p.last, p.leftAt = nil, time.Time{}
	p.active(c, now)
	return nil
}

// Disconnect closes connection id and reports whether it was the user's
// last one here. Closing is not activity. Unknown ids are ignored.
func (p *Connections) Disconnect(id string, now time.Time) (last bool) {
	c, ok := p.open[id]
	if !ok {
		return false
	}
	delete(p.open, id)
	if len(p.open) > 0 {
		return false
	}
	p.last, p.leftAt = c, now
	return true
}

// Touch records activity: on connection id, or with id "" (a REST write)
// on every open connection, and in last seen even with none open. A
// declared away stays until the client declares online.
func (p *Connections) Touch(id string, now time.Time) {
	if id == "" {
		for _, c := range p.open {
			p.active(c, now)
		}
		p.seen(p.platform, now)
		return
	}
	if c, ok := p.open[id]; ok {
		p.active(c, now)
	}
}

// Declare sets the status the client of connection id declares (online
// or away); declaring is activity. Unknown ids are ignored.
func (p *Connections) Declare(id string, s Status, now time.Time) error {
	if s != Online && s != Away {
		return errs.Invalidf("status must be \"online\" or \"away\"")
	}
	if c, ok := p.open[id]; ok {
		c.away = s == Away
		p.active(c, now)
	}
	return nil
}

func (p *Connections) active(c *connection, now time.Time) {
	if now.After(c.lastActivity) {
		c.lastActivity = now
	}
	p.seen(c.platform, now)
}

func (p *Connections) seen(platform string, now time.Time) {
	if !now.Before(p.lastSeen) {
		p.lastSeen, p.platform = now, platform
	}
}

// State is what this instance says of the user at now: online if any
// connection was active within AwayAfter and not declared away, away if
// connected otherwise, as the last connection left it during the grace,
// then offline. The platform is that of the connection with the best
// status, the most recently opened among equals.
func (p *Connections) State(now time.Time, r Rules) Entry {
	e := Entry{Status: Offline, Platform: p.platform, LastSeen: p.lastSeen}
	var best *connection
	for _, c := range p.open {
		s := c.status(now, r)
		if best == nil || s.rank() > e.Status.rank() || s == e.Status && c.before(best) {
			best, e.Status = c, s
		}
	}
	if best == nil && p.last != nil && now.Sub(p.leftAt) < r.Grace {
		best, e.Status = p.last, p.last.status(now, r)
	}
	if best != nil {
		e.Platform = best.platform
	}
	return e
}

// Gone reports whether the user has no connection here and the grace is
// over: the aggregate may be forgotten once its last seen is saved.
func (p *Connections) Gone(now time.Time, r Rules) bool {
	return len(p.open) == 0 && (p.last == nil || now.Sub(p.leftAt) >= r.Grace)
}

// NextChange is the earliest time after now at which State or Gone may
// change without any input (an active connection turning away, the end of
// the grace of the last one to close); zero if none can. Input (a
// connection, activity, a declared status) may change them sooner.
func (p *Connections) NextChange(now time.Time, r Rules) time.Time {
	var next time.Time
	soonest := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, c := range p.open {
		if !c.away {
			soonest(c.lastActivity.Add(r.AwayAfter))
		}
	}
	if len(p.open) == 0 && p.last != nil {
		end := p.leftAt.Add(r.Grace)
		soonest(end)
		if !p.last.away && p.last.lastActivity.Add(r.AwayAfter).Before(end) {
			soonest(p.last.lastActivity.Add(r.AwayAfter))
		}
	}
	return next
}
