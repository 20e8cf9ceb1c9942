package fault

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fechatter/fechatter/client"
	"github.com/fechatter/fechatter/client/bench"
)

// The load: users in chats of chatSize, rate messages/s over REST, each
// send retried with its idempotency key until acknowledged; a WebSocket
// per user, redialled when it drops (on the other instance when its own
// refuses connections) and followed by a catch-up with after_seq; every
// chat read back at the end. The recovery and the read-back are the
// bench's (--retry, --verify: bench.Retrier, bench.Verify).

type loadConfig struct {
	users, chatSize int
	rate            float64
}

type loadUser struct {
	i int
	*bench.User
	id   int64
	chat *loadChat

	mu     sync.Mutex
	seen   map[int64]bool // seqs of its chat delivered (frame or catch-up)
	contig int64          // every seq up to this one delivered
}

type loadChat struct {
	id      int64
	members []*loadUser
}

type sentMsg struct {
	sched    time.Time
	key      string
	chat     *loadChat
	sender   *loadUser
	acked    atomic.Bool
	tried    time.Time // the first attempt
	ackAt    time.Time
	attempts int
	lastErr  string
	// delivered: members (other than the sender) that got it.
	delivered atomic.Int32
}

type delivery struct {
	sched time.Time
	lat   time.Duration
}

type load struct {
	cfg      loadConfig
	bases    []string // the instances: user i talks to bases[i mod len]
	run      string
	hc       *http.Client
	retrier  *bench.Retrier
	users    []*loadUser
	chats    []*loadChat
	password string

	mu         sync.Mutex
	msgs       []*sentMsg
	deliveries []delivery
	dupFrames  atomic.Int64
	errKinds   sync.Map     // why calls failed: error code or transport error -> *atomic.Int64
	cutoff     atomic.Int64 // UnixNano: no send scheduled after it
	// keep ends the users' reconnect loops (bench.User.Keep).
	keep     context.Context
	stopKeep context.CancelFunc
	wg       sync.WaitGroup
}

// stopSending ends the schedule at the given time.
func (l *load) stopSending(at time.Time) { l.cutoff.Store(at.UnixNano()) }

func newLoad(bases []string, cfg loadConfig) *load {
	l := &load{cfg: cfg, bases: bases, run: strconv.FormatInt(time.Now().UnixNano()%1e9, 36),
		hc: client.NewHTTPClient(1024), password: "fault-suite-password"}
	l.retrier = bench.NewRetrier(bases, l.password, func(_ string, err error) { l.countError(err) })
	l.keep, l.stopKeep = context.WithCancel(context.Background())
	return l
}

func (l *load) content(i int) string { return fmt.Sprintf("fault %s #%d", l.run, i) }

func (l *load) index(content string) (int, bool) {
	pre := fmt.Sprintf("fault %s #", l.run)
	if !strings.HasPrefix(content, pre) {
		return 0, false
	}
	i, err := strconv.Atoi(content[len(pre):])
	return i, err == nil
}

// setup signs up the users (one workspace), makes the chats and connects.
func (l *load) setup(ctx context.Context) error {
	ws := "fault-" + l.run
	newClient := func(i int) (*client.Client, error) {
		return client.New(l.bases[i%len(l.bases)], client.WithHTTPClient(l.hc))
	}
	owner, err := newClient(0)
	if err != nil {
		return err
	}
	s, err := owner.SignUp(ctx, client.SignUpRequest{Email: fmt.Sprintf("u0-%s@fault.test", l.run),
		Password: l.password, Fullname: "Fault 0", Workspace: ws})
	if err != nil {
		return fmt.Errorf("sign up the owner: %w", err)
	}
	l.users = []*loadUser{{i: 0, User: bench.NewUser(l.retrier, 0, fmt.Sprintf("u0-%s@fault.test", l.run), owner), id: s.User.ID}}
	inv, err := owner.CreateInvite(ctx, client.InviteOptions{MaxUses: l.cfg.users, ExpiresInHours: 24})
	if err != nil {
		return fmt.Errorf("invite: %w", err)
	}
	rest := make([]*loadUser, l.cfg.users-1)
	if err := parallel(ctx, len(rest), 8, func(ctx context.Context, j int) error {
		cl, err := newClient(j + 1)
		if err != nil {
			return err
		}
		email := fmt.Sprintf("u%d-%s@fault.test", j+1, l.run)
		s, err := cl.SignUp(ctx, client.SignUpRequest{Email: email, Password: l.password,
			Fullname: fmt.Sprintf("Fault %d", j+1), Workspace: ws, InviteCode: inv.Code})
		if err != nil {
			return fmt.Errorf("sign up %d: %w", j+1, err)
		}
		rest[j] = &loadUser{i: j + 1, User: bench.NewUser(l.retrier, (j+1)%len(l.bases), email, cl), id: s.User.ID}
		return nil
	}); err != nil {
		return err
	}
	l.users = append(l.users, rest...)
	for _, u := range l.users {
		u.seen = map[int64]bool{}
	}
	n := l.cfg.users / l.cfg.chatSize
	l.chats = make([]*loadChat, n)
	if err := parallel(ctx, n, 8, func(ctx context.Context, c int) error {
		members := l.users[c*l.cfg.chatSize : (c+1)*l.cfg.chatSize]
		ids := make([]int64, 0, len(members)-1)
		for _, m := range members[1:] {
			ids = append(ids, m.id)
		}
		ch, err := members[0].Client().CreateChat(ctx, client.NewChat{Type: client.Group, Name: fmt.Sprintf("fault %d", c), MemberIDs: ids})
		if err != nil {
			return fmt.Errorf("create chat %d: %w", c, err)
		}
		lc := &loadChat{id: ch.ID, members: members}
		for _, m := range members {
			m.chat = lc
		}
		l.chats[c] = lc
		return nil
	}); err != nil {
		return err
	}
	l.users = l.users[:n*l.cfg.chatSize]
	return parallel(ctx, len(l.users), 16, func(ctx context.Context, i int) error {
		u := l.users[i]
		opts := client.DialOptions{Platform: "fault", OnFrame: l.onFrame(u)}
		if err := u.Dial(ctx, opts); err != nil {
			return fmt.Errorf("dial %d: %w", i, err)
		}
		l.wg.Go(func() { u.Keep(l.keep, opts, func(ctx context.Context) { l.catchUp(ctx, u) }) })
		return nil
	})
}

func parallel(ctx context.Context, n, workers int, fn func(context.Context, int) error) error {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		err1 error
	)
	for range min(n, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if err1 == nil {
						err1 = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return err1
}

func (l *load) onFrame(u *loadUser) func(client.Frame) {
	return func(f client.Frame) {
		if f.Type != client.FrameMessageCreated {
			return
		}
		var m client.Message
		if err := f.Decode(&m); err != nil {
			return
		}
		l.delivered(u, m, f.At)
	}
}

// delivered records one message reaching a member, by frame or catch-up.
func (l *load) delivered(u *loadUser, m client.Message, at time.Time) {
	i, ok := l.index(m.Content)
	if !ok {
		return
	}
	u.mu.Lock()
	if u.seen[m.Seq] {
		u.mu.Unlock()
		l.dupFrames.Add(1)
		return
	}
	u.seen[m.Seq] = true
	for u.seen[u.contig+1] {
		u.contig++
	}
	u.mu.Unlock()
	l.mu.Lock()
	if i >= len(l.msgs) {
		l.mu.Unlock()
		return
	}
	msg := l.msgs[i]
	l.mu.Unlock()
	if m.SenderID == u.id {
		return
	}
	msg.delivered.Add(1)
	l.mu.Lock()
	l.deliveries = append(l.deliveries, delivery{sched: msg.sched, lat: at.Sub(msg.sched)})
	l.mu.Unlock()
}

// catchUp reads the user's chat from the last seq up to which it has
// every message, after a reconnect.
func (l *load) catchUp(ctx context.Context, u *loadUser) {
	u.mu.Lock()
	after := u.contig
	u.mu.Unlock()
	_ = u.CatchUp(ctx, u.chat.id, after, func(m client.Message) { l.delivered(u, m, time.Now()) })
}

// send paces n messages at the rate from start, each retried with its
// key until acknowledged or giveUp passes.
func (l *load) send(n int, start time.Time, giveUp time.Time) {
	l.mu.Lock()
	for i := range n {
		c := l.chats[i%len(l.chats)]
		l.msgs = append(l.msgs, &sentMsg{
			sched:  start.Add(time.Duration(float64(i) / l.cfg.rate * float64(time.Second))),
			key:    fmt.Sprintf("f-%s-%d", l.run, i),
			chat:   c,
			sender: c.members[(i/len(l.chats))%len(c.members)],
		})
	}
	msgs := l.msgs
	l.mu.Unlock()
	var wg sync.WaitGroup
	for i, m := range msgs {
		time.Sleep(time.Until(m.sched))
		if c := l.cutoff.Load(); c != 0 && m.sched.UnixNano() > c {
			l.mu.Lock()
			l.msgs = l.msgs[:i]
			l.mu.Unlock()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.sendOne(i, m, giveUp)
		}()
	}
	wg.Wait()
}

func (l *load) sendOne(i int, m *sentMsg, giveUp time.Time) {
	ctx, cancel := context.WithDeadline(context.Background(), giveUp)
	defer cancel()
	m.tried = time.Now()
	_, attempts, err := m.sender.Send(ctx, m.chat.id, client.NewMessage{Content: l.content(i), IdempotencyKey: m.key}, false)
	m.attempts = attempts
	if err != nil {
		m.lastErr = err.Error()
		return
	}
	m.ackAt = time.Now()
	m.acked.Store(true)
}

func (l *load) countError(err error) {
	c, _ := l.errKinds.LoadOrStore(bench.ErrorCode(err), new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
}

func (l *load) errorKinds() string {
	var parts []string
	l.errKinds.Range(func(k, v any) bool {
		parts = append(parts, fmt.Sprintf("%s %d", k, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// waitDelivered waits until every acknowledged message reached every
// member, or limit passes.
func (l *load) waitDelivered(limit time.Duration) {
	waitUntil(limit, func() bool { return l.undelivered() == 0 })
}

func (l *load) undelivered() int {
	n := 0
	for _, m := range l.msgs {
		if m.acked.Load() {
			n += len(m.chat.members) - 1 - int(m.delivered.Load())
		}
	}
	return n
}

func (l *load) close() {
	l.stopKeep()
	l.wg.Wait()
	for _, u := range l.users {
		if c := u.Conn(); c != nil {
			_ = c.Close()
		}
	}
}

// verdict is what reading every chat back finds.
type verdict struct {
	Sent, Acked, Unacked    int
	Lost, Duplicated, Gaps  int
	OutOfOrder, Undelivered int
	Stored                  int
}

func (l *load) verify(ctx context.Context) (verdict, error) {
	v := verdict{Sent: len(l.msgs)}
	sent := make([]bench.SentMessage, len(l.msgs))
	for i, m := range l.msgs {
		sent[i] = bench.SentMessage{ChatID: m.chat.id, Acked: m.acked.Load(), Tried: m.tried, AckedAt: m.ackAt}
		if !m.acked.Load() {
			v.Unacked++
		}
	}
	ids := make([]int64, len(l.chats))
	readers := map[int64]*loadUser{}
	for k, c := range l.chats {
		ids[k], readers[c.id] = c.id, c.members[0]
	}
	r, err := bench.Verify(ctx, ids, func(ctx context.Context, chatID, after int64) (client.Messages, error) {
		return readers[chatID].Page(ctx, chatID, after)
	}, sent, l.index)
	if err != nil {
		return v, err
	}
	v.Acked, v.Stored = int(r.Acked), int(r.Read)
	v.Lost, v.Duplicated, v.Gaps, v.OutOfOrder = int(r.Missing), int(r.Duplicated), int(r.Gaps), int(r.OutOfOrder)
	v.Undelivered = l.undelivered()
	return v, nil
}

// p99 of the deliveries of messages scheduled in [from, to).
func (l *load) p99(from, to time.Time) (time.Duration, int) {
	l.mu.Lock()
	var lats []time.Duration
	for _, d := range l.deliveries {
		if !d.sched.Before(from) && d.sched.Before(to) {
			lats = append(lats, d.lat)
		}
	}
	l.mu.Unlock()
	if len(lats) == 0 {
		return 0, 0
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	return lats[int(math.Ceil(0.99*float64(len(lats))))-1], len(lats)
}

// settledAfter is how long after from the delivery p99 of every 1 s of
// sends stays under limit until to (or -1 if it never does).
func (l *load) settledAfter(from, to time.Time, limit time.Duration) time.Duration {
	settled := time.Duration(-1)
	for t := from; t.Before(to); t = t.Add(time.Second) {
		p, n := l.p99(t, t.Add(time.Second))
		if n > 0 && p >= limit {
			settled = -1
			continue
		}
		if settled < 0 {
			settled = t.Sub(from)
		}
	}
	return settled
}
