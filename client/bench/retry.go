package bench

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fechatter/fechatter/client"
)

// --retry: what a client does to keep the contract's guarantees through
// faults. The bench (Config.Retry) and the fault suite (client/fault) both
// run their users through it.

const (
	// retryAttempt bounds one attempt: a send may be held for up to 10 s
	// while the database is away, and an answer that comes is worth more
	// than a resend.
	retryAttempt    = 15 * time.Second
	retryBackoffMin = 100 * time.Millisecond
	retryBackoffMax = time.Second
	// retryFor is how long after its scheduled time a send of the bench is
	// made again (the fault suite sets its own limit).
	retryFor = time.Minute
	// pageLimit is API.md's largest page of history.
	pageLimit = 200
)

// Retrier is --retry for the users of one run. A call that fails in a way
// a retry can change is made again after a backoff (a send with the same
// idempotency key, so that the server keeps one message whatever the
// number of attempts), after signing in again when the token was refused,
// and on the next instance of the list when the user's own refuses
// connections. A WebSocket that drops is dialled again (Keep) and followed
// by a catch-up from after_seq (CatchUp). It counts what it did.
type Retrier struct {
	urls     []string
	password string
	onError  func(op string, err error)

	resends, retries, reconnects atomic.Int64
	failovers, signIns, catchUps atomic.Int64
}

// NewRetrier returns the Retrier of a run whose users talk to urls and
// sign in with password; onError (may be nil) is told of every failed
// attempt that is made again.
func NewRetrier(urls []string, password string, onError func(op string, err error)) *Retrier {
	return &Retrier{urls: urls, password: password, onError: onError}
}

// RetryStats is what --retry did in a run.
type RetryStats struct {
	// Resends are sends made again, with the same idempotency key, after
	// a failed or unanswered attempt.
	Resends int64 `json:"resends"`
	// Retries are the other calls made again (dials, pages of history).
	Retries int64 `json:"retries"`
	// Reconnects are WebSockets dialled again after they dropped.
	Reconnects int64 `json:"reconnects"`
	// Failovers are users moved to the next instance of --url, their own
	// refusing connections.
	Failovers int64 `json:"failovers"`
	// SignIns are sign-ins after the server refused a user's token.
	SignIns int64 `json:"sign_ins"`
	// CatchUps are chats read from after_seq after a reconnect, and
	// CaughtUp the messages that reached a member that way first.
	CatchUps int64 `json:"catch_ups"`
	CaughtUp int64 `json:"caught_up"`
}

// Stats is what r did so far (CaughtUp is the caller's to fill).
func (r *Retrier) Stats() RetryStats {
	return RetryStats{Resends: r.resends.Load(), Retries: r.retries.Load(), Reconnects: r.reconnects.Load(),
		Failovers: r.failovers.Load(), SignIns: r.signIns.Load(), CatchUps: r.catchUps.Load()}
}

// User is one signed-up user of a run: its client (moved to the next
// instance by a Retrier when its own is gone) and its WebSocket. Without
// a Retrier every call is made once.
type User struct {
	r     *Retrier
	email string

	mu   sync.Mutex
	inst int
	cl   *client.Client
	conn atomic.Pointer[client.Conn]
}

// NewUser is a user signed in on cl, the client of instance inst of the
// Retrier's URLs; r may be nil (no retries).
func NewUser(r *Retrier, inst int, email string, cl *client.Client) *User {
	return &User{r: r, email: email, inst: inst, cl: cl}
}

// Client is the user's client: of the instance it talks to now.
func (u *User) Client() *client.Client {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.cl
}

// Instance is the index of the instance the user talks to now.
func (u *User) Instance() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.inst
}

// Conn is the user's WebSocket (nil before Dial).
func (u *User) Conn() *client.Conn { return u.conn.Load() }

// Dial opens the user's WebSocket (one attempt: set-up failures show).
func (u *User) Dial(ctx context.Context, opts client.DialOptions) error {
	c, err := u.Client().Dial(ctx, opts)
	if err != nil {
		return err
	}
	u.conn.Store(c)
	return nil
}

// Do calls fn with the user's client until it succeeds, fails in a way a
// retry cannot change (Retryable), or ctx ends; each attempt has a
// deadline of its own. Without a Retrier it calls fn once, on ctx.
func (u *User) Do(ctx context.Context, op string, fn func(ctx context.Context, cl *client.Client) error) error {
	_, err := u.do(ctx, op, false, fn)
	return err
}

// do is Do; resend says the call is a send (counted as a resend when made
// again).
func (u *User) do(ctx context.Context, op string, resend bool, fn func(ctx context.Context, cl *client.Client) error) (attempts int, err error) {
	if u.r == nil {
		return 1, fn(ctx, u.Client())
	}
	backoff := retryBackoffMin
	for attempts = 1; ; attempts++ {
		cl := u.Client()
		actx, cancel := context.WithTimeout(ctx, retryAttempt)
		err = fn(actx, cl)
		cancel()
		if err == nil || ctx.Err() != nil || !Retryable(err) {
			return attempts, err
		}
		if u.r.onError != nil {
			u.r.onError(op, err)
		}
		wait := backoff
		var ae *client.Error
		switch {
		case client.IsCode(err, client.CodeUnauthenticated):
			u.signIn(ctx, cl)
		case Gone(err):
			u.failover(cl)
		case errors.As(err, &ae) && ae.RetryAfter > 0:
			wait = max(wait, ae.RetryAfter)
		}
		if !sleep(ctx, wait) {
			return attempts, err
		}
		backoff = min(2*backoff, retryBackoffMax)
		if resend {
			u.r.resends.Add(1)
		} else {
			u.r.retries.Add(1)
		}
	}
}

// Send sends m into chatID until it is acknowledged, on the user's
// WebSocket when viaWS and it is open, else over REST. Every attempt
// carries m's idempotency key; a message without one is sent once, since
// a second attempt could store it twice. attempts is how many were made.
func (u *User) Send(ctx context.Context, chatID int64, m client.NewMessage, viaWS bool) (msg client.Message, attempts int, err error) {
	send := func(ctx context.Context, cl *client.Client) error {
		var err error
		if conn := u.Conn(); viaWS && conn != nil && !closed(conn) {
			msg, _, err = conn.Send(ctx, chatID, m)
		} else {
			msg, _, err = cl.Send(ctx, chatID, m)
		}
		return err
	}
	if m.IdempotencyKey == "" || u.r == nil {
		return msg, 1, send(ctx, u.Client())
	}
	attempts, err = u.do(ctx, "send", true, send)
	return msg, attempts, err
}

// Page is one forward page of chatID's history after afterSeq, as the
// user (made again until it comes, with a Retrier).
func (u *User) Page(ctx context.Context, chatID, afterSeq int64) (client.Messages, error) {
	var page client.Messages
	err := u.Do(ctx, "read history", func(ctx context.Context, cl *client.Client) error {
		var err error
		page, err = cl.ListMessages(ctx, chatID, client.Page{Seq: afterSeq, Forward: true, Limit: pageLimit})
		return err
	})
	return page, err
}

// CatchUp reads chatID from after afterSeq to its newest message, calling
// fn with each message in seq order: what a client does after a
// reconnect (API.md: catch up with after_seq).
func (u *User) CatchUp(ctx context.Context, chatID, afterSeq int64, fn func(client.Message)) error {
	if u.r != nil {
		u.r.catchUps.Add(1)
	}
	return readForward(ctx, chatID, afterSeq, u.Page, fn)
}

// PageReader reads one forward page of a chat's history after afterSeq.
type PageReader func(ctx context.Context, chatID, afterSeq int64) (client.Messages, error)

// readForward pages chatID from after afterSeq to the end.
func readForward(ctx context.Context, chatID, afterSeq int64, read PageReader, fn func(client.Message)) error {
	for {
		page, err := read(ctx, chatID, afterSeq)
		if err != nil {
			return err
		}
		next := afterSeq
		for _, m := range page.Messages {
			fn(m)
			next = max(next, m.Seq)
		}
		if !page.HasMore || next == afterSeq {
			return nil
		}
		afterSeq = next
	}
}

// Keep keeps the user's WebSocket open until ctx ends: each time it
// drops, it is dialled again with opts (on the next instance when the
// user's own refuses connections, after signing in again when the token is
// refused), and caughtUp runs once it is open, for the caller to read what
// it missed (CatchUp). It returns when ctx ends; stop the run's Keeps
// before closing their connections. Without a Retrier it returns at once.
func (u *User) Keep(ctx context.Context, opts client.DialOptions, caughtUp func(ctx context.Context)) {
	if u.r == nil {
		return
	}
	for {
		c := u.Conn()
		if c == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-c.Done():
		}
		if ctx.Err() != nil {
			return
		}
		u.r.reconnects.Add(1)
		err := u.Do(ctx, "redial", func(ctx context.Context, cl *client.Client) error {
			nc, err := cl.Dial(ctx, opts)
			if err == nil {
				u.conn.Store(nc)
			}
			return err
		})
		if err != nil {
			return // ctx ended, or a refusal no retry changes
		}
		caughtUp(ctx)
	}
}

func (u *User) signIn(ctx context.Context, cl *client.Client) {
	sctx, cancel := context.WithTimeout(ctx, retryAttempt)
	defer cancel()
	if _, err := cl.SignIn(sctx, u.email, u.r.password); err != nil {
		if u.r.onError != nil {
			u.r.onError("sign in again", err)
		}
		return
	}
	u.r.signIns.Add(1)
}

// failover moves the user to the next instance if cl is still its client
// (calls that fail together move it once).
func (u *User) failover(cl *client.Client) {
	if len(u.r.urls) < 2 {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.cl != cl {
		return
	}
	next := (u.inst + 1) % len(u.r.urls)
	ncl, err := cl.At(u.r.urls[next])
	if err != nil {
		return
	}
	u.inst, u.cl = next, ncl
	u.r.failovers.Add(1)
}

// Retryable reports whether a call that failed with err may succeed if
// made again: the server was unavailable, busy or refused the token, the
// answer did not come (a timeout, a dropped connection), or the server
// could not be reached. A refusal of the request itself (invalid, not
// allowed, not found, a conflict) is not.
func Retryable(err error) bool {
	switch client.Code(err) {
	case "":
		return !errors.Is(err, context.Canceled)
	case client.CodeUnavailable, client.CodeRateLimited, client.CodeUnauthenticated, client.CodeInternal:
		return true
	default:
		return false
	}
}

// Gone reports whether err says the instance refuses connections: it is
// down (killed, or stopping: its listener is closed).
func Gone(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

func closed(c *client.Conn) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

// sleep waits d unless ctx ends first (false then).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
