package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fechatter/fechatter/client"
)

// sendTimeout bounds one send (REST or WebSocket).
const sendTimeout = 30 * time.Second

// giveUp is how far past the end of the timed phase sends may still
// start: a server that falls further behind gets the rest skipped (and
// counted), so that a run ends in bounded time.
const giveUp = 10 * time.Second

// Run runs cfg's workload against the server and reports what it
// measured. A run cut short (ctx canceled, a setup step failed) returns
// the report so far with the error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := newEngine(cfg)
	if limit := raiseFileLimit(); limit > 64 && cfg.Workload != Search && uint64(cfg.Users) > limit-64 {
		e.note("open-file limit %d is below --users %d: raise it (ulimit -n) or dials will fail", limit, cfg.Users)
	}
	stop := e.startProgress()
	var err error
	switch cfg.Workload {
	case Seed:
		err = e.seed(ctx)
	case Fanout, Channel:
		err = e.fanout(ctx) // a channel is one chat of everyone
	case Connections:
		err = e.connections(ctx)
	case Search:
		err = e.search(ctx)
	}
	if cfg.Verify && err == nil {
		err = e.verify(ctx)
	}
	e.stopKeeper()
	e.keeper.Wait()
	e.closeAll()
	if cfg.HTTPClient == nil {
		e.hc.CloseIdleConnections() // a server stopping next need not wait for them
	}
	stop()
	e.finish()
	return e.rep, err
}

// engine is one run's state.
type engine struct {
	cfg Config
	// keeper refreshes the users' sessions until stopKeeper.
	keeper     sync.WaitGroup
	keepCtx    context.Context
	stopKeeper context.CancelFunc
	urls       []string // the instances; user i uses urls[i mod len]
	run        string   // unique id of the run: in names, tokens, keys
	password   string   // every user's
	hc         *http.Client
	retrier    *Retrier // --retry; nil without
	caughtUp   atomic.Int64
	rep        *Report
	started    time.Time

	errs    counter // "operation code"
	frames  counter // server frames by type
	clientF counter // client frames by type (typing, read, presence)

	// mu guards what the progress reporter reads while the run sets it:
	// phase, users, tr, origin (and the report's notes). The workloads set
	// users and tr before any connection's reader starts, so readers use
	// them without the lock.
	mu    sync.Mutex
	phase string
	done  atomic.Int64
	total atomic.Int64

	users []*member
	chats []*chatInfo
	tr    *tracker
	lag   *lagSampler
	reads bool // seed: members send read frames after receiving

	opened, dialFailed atomic.Int64
	queries            atomic.Int64
	closing            atomic.Bool // closeAll started: closed sockets are no drops

	// timed phase
	origin   time.Time
	procBase ProcSample // server at the start of the timed phase
	selfBase ProcSample
	peakRSS  atomic.Int64
	elapsed  time.Duration
	sending  time.Duration // the send phase (search: not the timed phase)
	procEnd  ProcSample
	selfEnd  ProcSample
	pgBase   time.Duration // CPU of the local Postgres processes
	pgEnd    time.Duration
	pgProcs  int
	// several instances (PIDs): each one's CPU at both ends
	clusterBase, clusterEnd []ProcSample
	timerMu                 sync.Mutex
	timers                  []*time.Timer
}

func newEngine(cfg Config) *engine {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = client.NewHTTPClient(cfg.Concurrency + 16)
	}
	run := strconv.FormatUint(rand.Uint64()%(1<<40), 36)
	e := &engine{cfg: cfg, urls: cfg.URLs(), run: run, password: "bench-" + run + "-password", hc: hc, started: time.Now()}
	e.keepCtx, e.stopKeeper = context.WithCancel(context.Background())
	if cfg.Retry {
		e.retrier = NewRetrier(e.urls, e.password, e.fail)
	}
	e.rep = &Report{Version: ReportVersion, StartedAt: e.started.UTC(), Machine: ThisMachine(), Workload: cfg.Workload,
		Flags: Flags{URL: cfg.URL, Users: cfg.Users, ChatSize: cfg.ChatSize, Rate: cfg.Rate, Duration: cfg.Duration.String(),
			Concurrency: cfg.Concurrency, Transport: cfg.Transport, PID: cfg.PID, PIDs: cfg.PIDs, Retry: cfg.Retry, Verify: cfg.Verify},
		Errors: map[string]int64{}, Frames: map[string]int64{}}
	if len(e.urls) > 1 {
		e.rep.Flags.Instances = len(e.urls)
	}
	if cfg.Workload == Search {
		e.rep.Flags.Messages, e.rep.Flags.QueryRate, e.rep.Flags.FlowRate = cfg.Messages, cfg.QueryRate, cfg.FlowRate
	}
	return e
}

func (e *engine) note(format string, a ...any) {
	e.mu.Lock()
	e.rep.Notes = append(e.rep.Notes, fmt.Sprintf(format, a...))
	e.mu.Unlock()
}

func (e *engine) setPhase(name string, total int) {
	e.mu.Lock()
	e.phase = name
	e.mu.Unlock()
	e.done.Store(0)
	e.total.Store(int64(total))
}

// counter counts by key; safe for concurrent use, cheap when the keys
// are few and repeat (frame types, error codes).
type counter struct{ m sync.Map }

func (c *counter) add(key string, n int64) {
	v, ok := c.m.Load(key)
	if !ok {
		v, _ = c.m.LoadOrStore(key, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(n)
}

func (c *counter) snapshot() map[string]int64 {
	out := map[string]int64{}
	c.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// fail counts an error of an operation by its API code (or what kind of
// failure it was when the server gave none).
func (e *engine) fail(op string, err error) {
	e.errs.add(op+" "+ErrorCode(err), 1)
}

// ErrorCode names why a call failed: its API code, or what kind of
// failure it was when the server gave none (timeout, canceled,
// connection_closed, transport).
func ErrorCode(err error) string {
	if c := client.Code(err); c != "" {
		return c
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, client.ErrClosed):
		return "connection_closed"
	default:
		return "transport"
	}
}

// member is one signed-up user: its client and connection (User: of
// instance urls[Instance()]) and what it received.
type member struct {
	i int
	*User
	id    int64
	chats []*chatInfo // its chats, for catch-up

	// What it received, by chat: by the connection's reader (OnFrame)
	// and, with --retry, by the catch-up after a reconnect.
	seenMu sync.Mutex
	seen   map[int64]*seqSet
	last   map[int64]int64
	// caught holds the seqs a catch-up received first: their frames,
	// should they come after, are no duplicates.
	caught map[int64]*seqSet

	// seed: read pointers waiting to be sent, by chat.
	mu    sync.Mutex
	reads map[int64]int64
}

// chatInfo is a chat of the run and its members.
type chatInfo struct {
	id      int64
	members []*member
}

// seqSet is a set of seqs (dense from 1): one bit each.
type seqSet struct {
	bits   []uint64
	contig int64 // every seq up to this one is in the set
}

func (s *seqSet) has(seq int64) bool {
	w := int(seq >> 6)
	return seq > 0 && w < len(s.bits) && s.bits[w]&(uint64(1)<<(seq&63)) != 0
}

// add reports whether seq was new.
func (s *seqSet) add(seq int64) bool {
	if seq <= 0 || seq > 1<<32 {
		return true // not a seq the server gives; counted, not deduplicated
	}
	w, b := int(seq>>6), uint64(1)<<(seq&63)
	if w >= len(s.bits) {
		s.bits = append(s.bits, make([]uint64, w-len(s.bits)+1+len(s.bits)/2)...)
	}
	if s.bits[w]&b != 0 {
		return false
	}
	s.bits[w] |= b
	for s.has(s.contig + 1) {
		s.contig++
	}
	return true
}

// tracker follows the messages of a run: message i is scheduled at
// origin + i*interval, so its schedule is a pure function of i that the
// connections' readers can compute on their own.
type tracker struct {
	origin   atomic.Int64 // unix nanoseconds
	interval float64      // nanoseconds
	msgs     []sentMsg

	sent, failed, expected, received atomic.Int64
	duplicates, outOfOrder           atomic.Int64
	sendLat, delivLat, schedLag      *Samples
	// With several instances: delivLat split by whether the sender's and
	// the receiver's connections were on one instance.
	sameLat, crossLat *Samples
}

type sentMsg struct {
	chat  *chatInfo    // set before the send starts
	inst  atomic.Int32 // the sender's instance, set before the send starts
	acked atomic.Bool
	recv  atomic.Int32
	// tried and ackAt (unix nanoseconds): the first attempt and the ack,
	// for --verify's order check.
	tried, ackAt atomic.Int64
}

func newTracker(n int, rate float64) *tracker {
	return &tracker{interval: 1e9 / rate, msgs: make([]sentMsg, n),
		sendLat: NewSamples(0), delivLat: NewSamples(0), schedLag: NewSamples(0),
		sameLat: NewSamples(0), crossLat: NewSamples(0)}
}

func (t *tracker) sched(i int) time.Time {
	return time.Unix(0, t.origin.Load()+int64(float64(i)*t.interval))
}

// pace calls fire(i) for i in [0, n) at at(i), in order and never early.
// It does not slip: sends that are late fire at once and their latency,
// measured from at(i), shows it. It returns how many fired.
func pace(ctx context.Context, n int, at func(int) time.Time, fire func(int)) int {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := range n {
		if d := time.Until(at(i)); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return i
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return i
		}
		fire(i)
	}
	return n
}

// keepSignedIn refreshes the users' sessions, one user at a time, spread
// evenly so that each is refreshed every half of an access token's life
// (no burst of refreshes lands in the timed phase), until the run ends: a
// run longer than a token's life (the search workload seeding a million
// messages over REST) keeps its users signed in. A refresh that fails (its
// answer lost, say: the rotated token is then spent, and reusing it would
// revoke the session) is replaced by a sign-in with the password.
// WebSockets stay authenticated after their token expires (API.md), so
// only the workloads that call REST after set-up run it.
func (e *engine) keepSignedIn(users []*member, life time.Duration, password string) {
	step := life / 2 / time.Duration(max(len(users), 1))
	t := time.NewTicker(max(step, time.Millisecond))
	defer t.Stop()
	for i := 0; ; i = (i + 1) % len(users) {
		select {
		case <-e.keepCtx.Done():
			return
		case <-t.C:
		}
		m := users[i]
		if m == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(e.keepCtx, sendTimeout)
		if _, err := m.Client().Refresh(ctx); err != nil && ctx.Err() == nil {
			if _, err := m.Client().SignIn(ctx, e.email(i), password); err != nil && ctx.Err() == nil {
				e.fail("sign in again", err)
			}
		}
		cancel()
	}
}

// email is user i's address.
func (e *engine) email(i int) string {
	if i == 0 {
		return fmt.Sprintf("owner-%s@bench.fechatter.test", e.run)
	}
	return fmt.Sprintf("u%d-%s@bench.fechatter.test", i, e.run)
}

// forEach runs fn(i) for i in [0, n) on workers goroutines; it stops at
// the first error and returns it.
func forEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return first
}

// signUp creates the run's workspace (its owner is user 0) and n-1 more
// users through invites.
func (e *engine) signUp(ctx context.Context, n int) ([]*member, error) {
	e.setPhase("sign-up", n)
	start := time.Now()
	password := e.password
	ws := "bench-" + e.run
	newUser := func(i int) (*member, *client.Client, error) {
		inst := i % len(e.urls)
		cl, err := client.New(e.urls[inst], client.WithHTTPClient(e.hc))
		return &member{i: i, User: NewUser(e.retrier, inst, e.email(i), cl), seen: map[int64]*seqSet{}, last: map[int64]int64{}, reads: map[int64]int64{}}, cl, err
	}
	owner, cl, err := newUser(0)
	if err != nil {
		return nil, err
	}
	s, err := cl.SignUp(ctx, client.SignUpRequest{Email: e.email(0),
		Password: password, Fullname: "Bench Owner", Workspace: ws})
	if err != nil {
		return nil, fmt.Errorf("sign up the workspace owner: %w", err)
	}
	owner.id = s.User.ID
	e.done.Add(1)
	users := make([]*member, n)
	users[0] = owner
	var codes []string
	for _, uses := range inviteUses(n - 1) {
		inv, err := cl.CreateInvite(ctx, client.InviteOptions{MaxUses: uses, ExpiresInHours: 24})
		if err != nil {
			return nil, fmt.Errorf("create an invite: %w", err)
		}
		codes = append(codes, inv.Code)
	}
	// Password hashing is the server's slowest request: a few at a time.
	err = forEach(ctx, n-1, min(e.cfg.Concurrency, 16), func(ctx context.Context, j int) error {
		m, cl, err := newUser(j + 1)
		if err != nil {
			return err
		}
		s, err := cl.SignUp(ctx, client.SignUpRequest{Email: e.email(j + 1),
			Password: password, Fullname: fmt.Sprintf("Bench User %d", j+1), Workspace: ws, InviteCode: codes[j/perInvite]})
		if err != nil {
			return fmt.Errorf("sign up user %d: %w", j+1, err)
		}
		m.id = s.User.ID
		users[j+1] = m
		e.done.Add(1)
		return nil
	})
	e.mu.Lock()
	e.users = users
	e.mu.Unlock()
	if err == nil && s.ExpiresIn > 0 && (e.cfg.Workload == Search || e.cfg.Transport == TransportREST) {
		life := time.Duration(s.ExpiresIn) * time.Second
		e.keeper.Go(func() { e.keepSignedIn(users, life, password) })
	}
	e.rep.Setup.Workspace = ws
	e.rep.Setup.Users = n
	e.rep.Setup.Seconds += time.Since(start).Seconds()
	return users, err
}

// perInvite is the most uses an invite may have (API.md: max_uses
// 1..10000): user j+1 signs up with invite j/perInvite.
const perInvite = 10_000

// inviteUses is the max_uses of each invite n users need.
func inviteUses(n int) []int {
	var uses []int
	for left := n; left > 0; left -= perInvite {
		uses = append(uses, min(left, perInvite))
	}
	return uses
}

// chatSpec is a chat to create: its first member creates it.
type chatSpec struct {
	typ, name string
	members   []*member
}

func (e *engine) createChats(ctx context.Context, specs []chatSpec) ([]*chatInfo, error) {
	e.setPhase("chats", len(specs))
	start := time.Now()
	chats := make([]*chatInfo, len(specs))
	err := forEach(ctx, len(specs), min(e.cfg.Concurrency, 32), func(ctx context.Context, i int) error {
		sp := specs[i]
		ids := make([]int64, 0, len(sp.members)-1)
		for _, m := range sp.members[1:] {
			ids = append(ids, m.id)
		}
		c, err := sp.members[0].Client().CreateChat(ctx, client.NewChat{Type: sp.typ, Name: sp.name, MemberIDs: ids})
		if err != nil {
			return fmt.Errorf("create chat %s: %w", sp.name, err)
		}
		chats[i] = &chatInfo{id: c.ID, members: sp.members}
		e.done.Add(1)
		return nil
	})
	e.chats = append(e.chats, chats...)
	for _, c := range chats {
		if c == nil {
			continue // not created: the run fails
		}
		for _, m := range c.members {
			m.chats = append(m.chats, c)
		}
	}
	e.rep.Setup.Chats += len(specs)
	e.rep.Setup.Seconds += time.Since(start).Seconds()
	return chats, err
}

// groupType is the chat type that holds size members.
func groupType(size int) string {
	if size <= 50 { // the default group limit
		return client.Group
	}
	return client.PrivateChannel
}

// connect opens a WebSocket per member. tolerant counts failed dials
// instead of failing the run.
func (e *engine) connect(ctx context.Context, users []*member, tolerant bool) error {
	e.setPhase("connect", len(users))
	return forEach(ctx, len(users), e.cfg.Concurrency, func(ctx context.Context, i int) error {
		m := users[i]
		opts := client.DialOptions{Platform: "bench", OnFrame: e.onFrame(m)}
		if err := m.Dial(ctx, opts); err != nil {
			e.dialFailed.Add(1)
			e.fail("dial", err)
			if tolerant && ctx.Err() == nil {
				return nil
			}
			return fmt.Errorf("connect user %d: %w", i, err)
		}
		if e.retrier != nil {
			e.keeper.Go(func() { m.Keep(e.keepCtx, opts, func(ctx context.Context) { e.catchUp(ctx, m) }) })
		}
		e.opened.Add(1)
		e.done.Add(1)
		return nil
	})
}

// onFrame is a member's frame handler: it runs on the reader of its
// connection.
func (e *engine) onFrame(m *member) func(client.Frame) {
	return func(f client.Frame) {
		e.frames.add(f.Type, 1)
		switch f.Type {
		case client.FrameMessageCreated:
			e.onMessage(m, f)
		case client.FrameError:
			e.errs.add("ws "+client.ErrorOf(f).Code, 1)
		}
	}
}

func (e *engine) onMessage(m *member, f client.Frame) {
	var d struct {
		ChatID   int64  `json:"chat_id"`
		Seq      int64  `json:"seq"`
		SenderID int64  `json:"sender_id"`
		Content  string `json:"content"`
	}
	t := e.tr
	if t == nil {
		return // no messages in this workload
	}
	if err := f.Decode(&d); err != nil {
		e.errs.add("frame undecodable", 1)
		return
	}
	e.received(m, d.ChatID, d.Seq, d.SenderID, d.Content, f.At, false)
}

// received records a message reaching m: by a frame, or by the catch-up
// after a reconnect (caughtUp: it may come after higher seqs the new
// connection delivered first, and is not out of order for that).
func (e *engine) received(m *member, chatID, seq, senderID int64, text string, at time.Time, caughtUp bool) {
	t := e.tr
	m.seenMu.Lock()
	set := m.seen[chatID]
	if set == nil {
		set = &seqSet{}
		m.seen[chatID] = set
	}
	if !set.add(seq) {
		dup := !caughtUp && (m.caught[chatID] == nil || !m.caught[chatID].has(seq))
		m.seenMu.Unlock()
		if dup { // a catch-up reads what it may have had, and the other way round
			t.duplicates.Add(1)
		}
		return
	}
	if caughtUp {
		if m.caught == nil {
			m.caught = map[int64]*seqSet{}
		}
		if m.caught[chatID] == nil {
			m.caught[chatID] = &seqSet{}
		}
		m.caught[chatID].add(seq)
	}
	if seq < m.last[chatID] && !caughtUp {
		t.outOfOrder.Add(1)
	} else {
		m.last[chatID] = max(m.last[chatID], seq)
	}
	m.seenMu.Unlock()
	if caughtUp {
		e.caughtUp.Add(1)
	}
	i, ok := messageIndex(text)
	if !ok || i >= len(t.msgs) {
		return // not a message of this run
	}
	t.msgs[i].recv.Add(1)
	t.received.Add(1)
	lat := at.Sub(t.sched(i))
	t.delivLat.Add(lat)
	if len(e.urls) > 1 {
		if int(t.msgs[i].inst.Load()) == m.Instance() {
			t.sameLat.Add(lat)
		} else {
			t.crossLat.Add(lat)
		}
	}
	if e.reads && senderID != m.id {
		e.scheduleRead(m, chatID, seq, i)
	}
}

// catchUp reads each of m's chats from the last seq up to which it has
// every message (--retry, after a reconnect).
func (e *engine) catchUp(ctx context.Context, m *member) {
	for _, c := range m.chats {
		m.seenMu.Lock()
		var after int64
		if s := m.seen[c.id]; s != nil {
			after = s.contig
		}
		m.seenMu.Unlock()
		err := m.CatchUp(ctx, c.id, after, func(msg client.Message) {
			if e.tr != nil {
				e.received(m, msg.ChatID, msg.Seq, msg.SenderID, msg.Content, time.Now(), true)
			}
		})
		if err != nil && ctx.Err() == nil {
			e.fail("catch up", err)
		}
	}
}

// scheduleRead sends a read frame for the chat a moment later, as a
// client does once the message has been on screen; reads of one chat
// arriving meanwhile are folded into it.
func (e *engine) scheduleRead(m *member, chatID, seq int64, i int) {
	m.mu.Lock()
	prev, pending := m.reads[chatID]
	if !pending || seq > prev {
		m.reads[chatID] = seq
	}
	m.mu.Unlock()
	if pending {
		return
	}
	delay := 200*time.Millisecond + time.Duration(mix(uint64(i)<<20^uint64(m.i))%1000)*time.Millisecond
	e.after(delay, func() {
		m.mu.Lock()
		seq := m.reads[chatID]
		delete(m.reads, chatID)
		m.mu.Unlock()
		e.clientFrame(m, "read", func(c *client.Conn) error { return c.Read(chatID, seq) })
	})
}

// clientFrame sends a frame on m's connection and counts it.
func (e *engine) clientFrame(m *member, typ string, send func(*client.Conn) error) {
	c := m.Conn()
	if c == nil || e.closing.Load() {
		return
	}
	if err := send(c); err != nil {
		if !e.closing.Load() {
			e.fail(typ, err)
		}
		return
	}
	e.clientF.add(typ, 1)
}

// after runs fn after d unless the run ends first.
func (e *engine) after(d time.Duration, fn func()) {
	e.timerMu.Lock()
	defer e.timerMu.Unlock()
	if e.closing.Load() {
		return
	}
	e.timers = append(e.timers, time.AfterFunc(d, fn))
}

// startTimed marks the start of the timed phase at origin.
func (e *engine) startTimed(origin time.Time) {
	e.setPhase("run", 0)
	e.mu.Lock()
	e.origin = origin
	e.mu.Unlock()
	e.rep.LoadAverage[0] = LoadAverage()
	e.selfBase, _ = ReadProc(0)
	e.pgBase, _ = PostgresCPU(e.cfg.Database)
	if e.cfg.PID > 0 {
		var err error
		if e.procBase, err = ReadProc(e.cfg.PID); err != nil {
			e.note("cannot read the server's /proc (pid %d): %v", e.cfg.PID, err)
		}
		e.peakRSS.Store(e.procBase.RSS)
	}
	e.clusterBase = readProcs(e.cfg.PIDs)
}

// readProcs samples each process (a zero sample for one that is gone).
func readProcs(pids []int) []ProcSample {
	if len(pids) == 0 {
		return nil
	}
	out := make([]ProcSample, len(pids))
	for i, pid := range pids {
		out[i], _ = ReadProc(pid)
	}
	return out
}

// endTimed marks its end.
func (e *engine) endTimed() {
	e.elapsed = time.Since(e.origin)
	e.rep.LoadAverage[1] = LoadAverage()
	e.selfEnd, _ = ReadProc(0)
	e.pgEnd, e.pgProcs = PostgresCPU(e.cfg.Database)
	if e.cfg.PID > 0 {
		e.procEnd, _ = ReadProc(e.cfg.PID)
		e.peakRSS.Store(max(e.peakRSS.Load(), e.procEnd.RSS))
	}
	e.clusterEnd = readProcs(e.cfg.PIDs)
}

// sendPhase sends n messages at the tracker's rate: message i by plan(i)
// at its scheduled time. With lead > 0, before(i) runs lead ahead of the
// send (the typing frame).
func (e *engine) sendPhase(ctx context.Context, lead time.Duration, plan func(i int) (*member, *chatInfo), before func(i int, m *member, c *chatInfo)) {
	t := e.tr
	n := len(t.msgs)
	origin := time.Now().Add(lead + 100*time.Millisecond)
	t.origin.Store(origin.UnixNano())
	e.startTimed(origin)
	// Sends run on ctx; starting them stops at the give-up time.
	last := t.sched(max(n-1, 0))
	start, cancel := context.WithDeadline(ctx, last.Add(giveUp))
	defer cancel()
	sem := make(chan struct{}, e.cfg.Concurrency)
	var wg sync.WaitGroup
	var started atomic.Int64
	dispatch := func(i int, m *member, c *chatInfo) {
		select {
		case sem <- struct{}{}:
		case <-start.Done():
			wg.Done()
			return
		}
		if start.Err() != nil {
			<-sem
			wg.Done()
			return
		}
		started.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			e.send(ctx, i, m, c)
		}()
	}
	pace(start, n, func(i int) time.Time { return t.sched(i).Add(-lead) }, func(i int) {
		m, c := plan(i)
		t.msgs[i].chat = c
		t.msgs[i].inst.Store(int32(m.Instance()))
		wg.Add(1)
		if lead <= 0 {
			dispatch(i, m, c)
			return
		}
		before(i, m, c)
		time.AfterFunc(time.Until(t.sched(i)), func() { dispatch(i, m, c) })
	})
	wg.Wait()
	e.rep.Messages.Scheduled = int64(n)
	e.rep.Messages.Skipped = int64(n) - started.Load()
	if sk := e.rep.Messages.Skipped; sk > 0 && ctx.Err() == nil {
		e.note("%d sends skipped: the server fell more than %s behind the schedule", sk, giveUp)
	}
	e.endTimed()
	e.sending = e.elapsed
}

// send sends message i and records its latency.
func (e *engine) send(ctx context.Context, i int, m *member, c *chatInfo) {
	t := e.tr
	at := t.sched(i)
	t.schedLag.Add(time.Since(at))
	limit := sendTimeout
	if e.retrier != nil {
		limit = retryFor
	}
	ctx, cancel := context.WithDeadline(ctx, at.Add(max(limit, time.Since(at)+sendTimeout)))
	defer cancel()
	msg := client.NewMessage{Content: content(e.run, i), IdempotencyKey: e.run + "-" + strconv.Itoa(i)}
	t.msgs[i].tried.Store(time.Now().UnixNano())
	_, _, err := m.Send(ctx, c.id, msg, e.cfg.Transport == TransportWS)
	now := time.Now()
	if err != nil {
		t.failed.Add(1)
		e.fail("send", err)
		return
	}
	t.sendLat.Add(now.Sub(at))
	t.msgs[i].ackAt.Store(now.UnixNano())
	t.msgs[i].acked.Store(true)
	t.sent.Add(1)
	if e.cfg.Workload != Search { // search opens no WebSockets: nothing is delivered
		t.expected.Add(int64(len(c.members)))
	}
	if e.lag != nil {
		e.lag.maybeSample(ctx, m, i, now)
	}
}

// drain waits until every expected delivery arrived, or Drain passed.
func (e *engine) drain(ctx context.Context) {
	e.setPhase("drain", 0)
	deadline := time.Now().Add(e.cfg.Drain)
	for e.tr.received.Load() < e.tr.expected.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
}

// closeAll stops the timers and closes every connection.
func (e *engine) closeAll() {
	e.timerMu.Lock()
	e.closing.Store(true)
	for _, t := range e.timers {
		t.Stop()
	}
	e.timerMu.Unlock()
	var dropped atomic.Int64
	_ = forEach(context.Background(), len(e.users), 64, func(_ context.Context, i int) error {
		if m := e.users[i]; m != nil {
			if c := m.Conn(); c != nil {
				select {
				case <-c.Done():
					dropped.Add(1)
				default:
				}
				_ = c.Close()
			}
		}
		return nil
	})
	e.rep.Connections.Dropped = dropped.Load()
}

// openConns counts the connections still open.
func openConns(users []*member) int64 {
	var n int64
	for _, m := range users {
		if m == nil {
			continue
		}
		if c := m.Conn(); c != nil {
			select {
			case <-c.Done():
			default:
				n++
			}
		}
	}
	return n
}

// startProgress reports progress once a second (and samples the server's
// memory for its peak) until the returned stop is called.
func (e *engine) startProgress() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var rss int64
			if e.cfg.PID > 0 {
				if s, err := ReadProc(e.cfg.PID); err == nil {
					rss = s.RSS
					e.mu.Lock()
					timed := !e.origin.IsZero()
					e.mu.Unlock()
					if timed {
						e.peakRSS.Store(max(e.peakRSS.Load(), rss))
					}
				}
			}
			if e.cfg.Progress != nil {
				e.cfg.Progress(e.snapshot(rss))
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func (e *engine) snapshot(rss int64) Progress {
	e.mu.Lock()
	p := Progress{Workload: e.cfg.Workload, Phase: e.phase, Duration: e.cfg.Duration}
	origin, t, users := e.origin, e.tr, e.users
	e.mu.Unlock()
	p.Done, p.Total = e.done.Load(), e.total.Load()
	if !origin.IsZero() {
		p.Elapsed = max(time.Since(origin), 0)
	}
	if t != nil {
		p.Sent, p.Failed, p.Expected, p.Received = t.sent.Load(), t.failed.Load(), t.expected.Load(), t.received.Load()
	}
	p.Queries = e.queries.Load()
	p.Conns = openConns(users)
	p.RSS = rss
	return p
}

// finish fills in the report.
func (e *engine) finish() {
	r := e.rep
	r.ElapsedSeconds = e.elapsed.Seconds()
	if t := e.tr; t != nil {
		r.Messages.Sent, r.Messages.Failed = t.sent.Load(), t.failed.Load()
		var d Deliveries
		for i := range t.msgs {
			m := &t.msgs[i]
			recv := int64(m.recv.Load())
			if m.acked.Load() {
				if e.cfg.Workload != Search {
					d.Expected += int64(len(m.chat.members))
				}
				d.Received += recv
			} else {
				d.Unacked += recv
			}
		}
		d.Lost = max(d.Expected-d.Received, 0)
		if d.Expected > 0 {
			d.LossRatio = float64(d.Lost) / float64(d.Expected)
		}
		d.Duplicates, d.OutOfOrder = t.duplicates.Load(), t.outOfOrder.Load()
		if e.sending > 0 {
			r.Messages.RatePerSec = float64(r.Messages.Sent) / e.sending.Seconds()
			d.RatePerSec = float64(d.Received) / e.sending.Seconds()
		}
		r.Deliveries = d
		r.SendLatency, r.DeliveryLatency, r.ScheduleLag = t.sendLat.Summary(), t.delivLat.Summary(), t.schedLag.Summary()
		if len(e.urls) > 1 {
			r.DeliveryLatencySameInstance, r.DeliveryLatencyCrossInstance = t.sameLat.Summary(), t.crossLat.Summary()
		}
	}
	if e.retrier != nil {
		st := e.retrier.Stats()
		st.CaughtUp = e.caughtUp.Load()
		r.Retry = &st
	}
	if l := e.lag; l != nil {
		r.IndexLag, r.IndexLagMissed = l.samples.Summary(), l.missed.Load()
	}
	r.Connections.Opened, r.Connections.Failed = e.opened.Load(), e.dialFailed.Load()
	r.Errors = e.errs.snapshot()
	r.Frames = e.frames.snapshot()
	for k, v := range e.clientF.snapshot() {
		r.Frames["sent "+k] = v
	}
	secs := e.elapsed.Seconds()
	r.Generator = procStats(e.selfBase, e.selfEnd, 0, secs)
	if e.pgProcs > 0 {
		pg := &PostgresStats{Processes: e.pgProcs, CPUSeconds: (e.pgEnd - e.pgBase).Seconds()}
		if secs > 0 {
			pg.CPUCores = pg.CPUSeconds / secs
		}
		if r.Messages.Sent > 0 {
			pg.CPUMsPerMessage = 1000 * pg.CPUSeconds / float64(r.Messages.Sent)
		}
		r.Postgres = pg
	}
	if len(e.clusterBase) > 0 && len(e.clusterEnd) == len(e.clusterBase) {
		c := &ClusterStats{Instances: len(e.clusterBase)}
		for i, pid := range e.cfg.PIDs {
			s := ServerStats{PID: pid, ProcStats: procStats(e.clusterBase[i], e.clusterEnd[i], 0, secs)}
			if r.Messages.Sent > 0 {
				s.CPUMsPerMessage = 1000 * s.CPUSeconds / float64(r.Messages.Sent)
			}
			c.Servers = append(c.Servers, s)
			c.CPUSeconds += s.CPUSeconds
			c.CPUCores += s.CPUCores
			c.RSSAfterBytes += s.RSSAfterBytes
		}
		if r.Messages.Sent > 0 {
			c.CPUMsPerMessage = 1000 * c.CPUSeconds / float64(r.Messages.Sent)
		}
		r.Cluster = c
	}
	if e.cfg.PID > 0 && e.procBase.RSS > 0 {
		r.Server = &ServerStats{PID: e.cfg.PID, ProcStats: procStats(e.procBase, e.procEnd, e.peakRSS.Load(), secs)}
		if r.Messages.Sent > 0 {
			r.Server.CPUMsPerMessage = 1000 * r.Server.CPUSeconds / float64(r.Messages.Sent)
		}
		if e.cfg.Workload == Connections && r.Connections.Opened > 0 {
			r.Server.PerConnectionBytes = (e.procEnd.RSS - e.procBase.RSS) / r.Connections.Opened
		}
	}
}

func procStats(before, after ProcSample, peak int64, secs float64) ProcStats {
	p := ProcStats{RSSBeforeBytes: before.RSS, RSSAfterBytes: after.RSS, RSSPeakBytes: max(peak, before.RSS, after.RSS),
		CPUSeconds: (after.CPUTime - before.CPUTime).Seconds()}
	if secs > 0 {
		p.CPUCores = p.CPUSeconds / secs
	}
	return p
}

// lagSampler measures index lag on a sample of the acknowledged sends:
// one every lagEvery, at most lagInFlight at once, each polled by search
// for its unique token every lagPoll.
type lagSampler struct {
	e       *engine
	last    atomic.Int64
	slots   chan struct{}
	wg      sync.WaitGroup
	samples *Samples
	missed  atomic.Int64
	stop    chan struct{}
}

const (
	lagEvery    = 250 * time.Millisecond
	lagInFlight = 2
	lagPoll     = 20 * time.Millisecond
	lagTimeout  = 30 * time.Second
)

func newLagSampler(e *engine) *lagSampler {
	return &lagSampler{e: e, slots: make(chan struct{}, lagInFlight), samples: NewSamples(0), stop: make(chan struct{})}
}

func (l *lagSampler) maybeSample(ctx context.Context, m *member, i int, acked time.Time) {
	last := l.last.Load()
	if acked.UnixNano()-last < int64(lagEvery) || !l.last.CompareAndSwap(last, acked.UnixNano()) {
		return
	}
	select {
	case l.slots <- struct{}{}:
	default:
		return
	}
	l.wg.Go(func() {
		defer func() { <-l.slots }()
		ctx := context.WithoutCancel(ctx)
		tok := token(l.e.run, i)
		deadline := acked.Add(lagTimeout)
		for time.Now().Before(deadline) {
			res, err := m.Client().Search(ctx, client.SearchQuery{Q: tok, Limit: 10})
			if err == nil && hasToken(res.Hits, l.e.run, i) {
				l.samples.Add(time.Since(acked))
				return
			}
			if err != nil {
				l.e.fail("search", err)
			}
			select {
			case <-l.stop:
				l.missed.Add(1)
				return
			case <-time.After(lagPoll):
			}
		}
		l.missed.Add(1)
	})
}

// wait waits for the samples in flight, giving up after d.
func (l *lagSampler) wait(d time.Duration) {
	t := time.AfterFunc(d, func() { close(l.stop) })
	l.wg.Wait()
	t.Stop()
}

// verify reads every chat back (--verify) as its first member.
func (e *engine) verify(ctx context.Context) error {
	t := e.tr
	if t == nil || len(e.chats) == 0 {
		e.note("--verify: this workload sends no messages; nothing to read back")
		return nil
	}
	e.setPhase("verify", len(e.chats))
	sent := make([]SentMessage, len(t.msgs))
	for i := range t.msgs {
		m := &t.msgs[i]
		if m.chat != nil {
			sent[i] = SentMessage{ChatID: m.chat.id, Acked: m.acked.Load(), Tried: unixTime(m.tried.Load()), AckedAt: unixTime(m.ackAt.Load())}
		}
	}
	ids := make([]int64, len(e.chats))
	readers := make(map[int64]*member, len(e.chats))
	for k, c := range e.chats {
		ids[k] = c.id
		readers[c.id] = c.members[0]
	}
	v, err := Verify(ctx, ids, func(ctx context.Context, chatID, after int64) (client.Messages, error) {
		if after == 0 {
			e.done.Add(1) // a chat begun
		}
		return readers[chatID].Page(ctx, chatID, after)
	}, sent, messageIndex)
	if err != nil {
		return fmt.Errorf("bench: --verify: %w", err)
	}
	e.rep.Verify = &v
	return nil
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// setTracker installs the run's message tracker (before any reader starts).
func (e *engine) setTracker(t *tracker) {
	e.mu.Lock()
	e.tr = t
	e.mu.Unlock()
}
