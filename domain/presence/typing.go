package presence

import "time"

// TypingRules are the timings of typing indicators.
type TypingRules struct {
	// TTL is how long a start holds without a repeat: clients stop showing
	// it at expires_at = start + TTL. Default 6 s.
	TTL time.Duration
	// Throttle is the least time between two broadcast starts of one user
	// in one chat; repeats within it are not broadcast. Default 2 s.
	Throttle time.Duration
}

// DefaultTypingRules are API.md's: expires_at = now + 6 s, at most one
// broadcast per user per chat per 2 s.
var DefaultTypingRules = TypingRules{TTL: 6 * time.Second, Throttle: 2 * time.Second}

// WithDefaults fills zero fields from DefaultTypingRules.
func (r TypingRules) WithDefaults() TypingRules {
	if r.TTL <= 0 {
		r.TTL = DefaultTypingRules.TTL
	}
	if r.Throttle <= 0 {
		r.Throttle = DefaultTypingRules.Throttle
	}
	return r
}

// Typing is whether one user is typing in one chat, as the other members
// were last told: it mirrors the last broadcast, so a repeat that was not
// broadcast does not extend it. The zero value is not typing.
type Typing struct {
	expiresAt   time.Time // of the last broadcast start; zero if stopped
	broadcastAt time.Time
}

// Active reports whether the members were told the user is typing and
// that has not expired yet.
func (t *Typing) Active(now time.Time) bool {
	return !t.expiresAt.IsZero() && now.Before(t.expiresAt)
}

// ExpiresAt is when the last broadcast start expires (zero if stopped).
func (t *Typing) ExpiresAt() time.Time { return t.expiresAt }

// Start records a start at now. broadcast tells whether to tell the
// members, with expiresAt: yes unless a start was broadcast less than
// Throttle ago and has not expired.
func (t *Typing) Start(now time.Time, r TypingRules) (broadcast bool, expiresAt time.Time) {
	if t.Active(now) && now.Sub(t.broadcastAt) < r.Throttle {
		return false, t.expiresAt
	}
	t.broadcastAt, t.expiresAt = now, now.Add(r.TTL)
	return true, t.expiresAt
}

// Stop records a stop at now (explicit, a message sent, the last
// connection gone) and tells whether to broadcast it: only if the members
// still believe the user is typing.
func (t *Typing) Stop(now time.Time) (broadcast bool) {
	active := t.Active(now)
	t.expiresAt, t.broadcastAt = time.Time{}, time.Time{}
	return active
}
