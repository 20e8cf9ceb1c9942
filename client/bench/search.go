package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fechatter/fechatter/client"
)

// indexWait bounds the wait for the index to catch up after seeding (with
// more for many messages: indexWaitFor).
const indexWait = 2 * time.Minute

// search: Messages messages sent over REST at Rate into chats of ChatSize
// (index lag sampled meanwhile); once the last ones are searchable,
// QueryRate queries a second for Duration, each a vocabulary word searched
// by a random user over its chats, while FlowRate messages a second keep
// flowing (their index lag sampled apart).
func (e *engine) search(ctx context.Context) error {
	cfg := e.cfg
	users, err := e.signUp(ctx, cfg.Users)
	if err != nil {
		return err
	}
	chatOf := make([]*chatInfo, len(users))
	var specs []chatSpec
	for k := 0; k+cfg.ChatSize <= len(users); k += cfg.ChatSize {
		specs = append(specs, chatSpec{typ: groupType(cfg.ChatSize), name: fmt.Sprintf("search %d", k/cfg.ChatSize), members: users[k : k+cfg.ChatSize]})
	}
	chats, err := e.createChats(ctx, specs)
	if err != nil {
		return err
	}
	for _, c := range chats {
		for _, m := range c.members {
			chatOf[m.i] = c
		}
	}
	if per := cfg.Rate / float64(len(users)); per > DefaultSendLimit {
		e.note("each user sends %.1f messages/s, above the default limit of %g/s", per, DefaultSendLimit)
	}
	e.setTracker(newTracker(cfg.sends(), cfg.Rate))
	senders := make([]*member, len(e.tr.msgs))
	plan := func(i int) (*member, *chatInfo) {
		m := users[interleave(i, len(chats), cfg.ChatSize)]
		senders[i] = m
		return m, chatOf[m.i]
	}
	if cfg.Seeder != nil {
		if err := e.bulkSeed(ctx, plan); err != nil {
			return err
		}
	} else {
		e.lag = newLagSampler(e)
		e.sendPhase(ctx, 0, plan, nil)
		e.rep.SeedMode, e.rep.SeedSeconds = "send", e.sending.Seconds()
		if e.sending > 0 {
			e.rep.SeedRatePerSec = float64(e.tr.sent.Load()) / e.sending.Seconds()
		}
		e.lag.wait(e.cfg.Drain)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := e.waitIndexed(ctx, senders); err != nil {
		return err
	}
	return e.queryPhase(ctx, users, chatOf)
}

// bulkSeed stores the messages through cfg.Seeder, SeedBatch at a time,
// in order (so each chat's seqs follow the message numbers), each the
// message plan(i) would send over REST, with its content and idempotency
// key; a stored batch counts as acknowledged.
func (e *engine) bulkSeed(ctx context.Context, plan func(i int) (*member, *chatInfo)) error {
	t := e.tr
	n := len(t.msgs)
	origin := time.Now()
	t.origin.Store(origin.UnixNano())
	e.startTimed(origin)
	e.setPhase("seed", n)
	batch := make([]SeedMessage, 0, SeedBatch)
	var err error
	for lo := 0; lo < n && err == nil; lo += SeedBatch {
		hi := min(lo+SeedBatch, n)
		batch = batch[:0]
		for i := lo; i < hi; i++ {
			m, c := plan(i)
			t.msgs[i].chat = c
			t.msgs[i].inst.Store(int32(m.Instance()))
			batch = append(batch, SeedMessage{ChatID: c.id, SenderID: m.id, Content: content(e.run, i),
				IdempotencyKey: e.run + "-" + strconv.Itoa(i)})
		}
		if err = e.cfg.Seeder.SeedMessages(ctx, batch); err != nil {
			t.failed.Add(int64(hi - lo))
			e.fail("seed", err)
			err = fmt.Errorf("bench: bulk seeding messages %d..%d: %w", lo, hi-1, err)
			break
		}
		for i := lo; i < hi; i++ {
			t.msgs[i].acked.Store(true)
		}
		t.sent.Add(int64(hi - lo))
		e.done.Store(int64(hi))
	}
	e.endTimed()
	e.sending = e.elapsed
	e.rep.Messages.Scheduled = int64(n)
	e.rep.SeedMode, e.rep.SeedSeconds = "bulk", e.sending.Seconds()
	if e.sending > 0 {
		e.rep.SeedRatePerSec = float64(t.sent.Load()) / e.sending.Seconds()
	}
	e.note("bulk seeding: %d messages written straight into the database, %d to a transaction (the rows a send writes, with its message.created events in the outbox), then indexed by the server from those events, in %.1fs (%.0f/s)",
		t.sent.Load(), SeedBatch, e.rep.SeedSeconds, e.rep.SeedRatePerSec)
	return err
}

// indexWaitFor is how long waitIndexed waits for n messages: indexWait,
// plus 4 ms a message (the server indexes well over 250 a second).
func indexWaitFor(n int) time.Duration {
	return indexWait + time.Duration(n)*4*time.Millisecond
}

// progressProbes is how many messages along a bulk seeding waitIndexed
// looks for, in order, to show the indexer's progress.
const progressProbes = 50

// waitIndexed waits until the last acknowledged messages are searchable.
// After a bulk seeding it first follows the indexer's progress (Progress
// Done of Total), looking for messages spread over the run in order.
func (e *engine) waitIndexed(ctx context.Context, senders []*member) error {
	n := len(e.tr.msgs)
	e.setPhase("index", 0)
	start := time.Now()
	e.mu.Lock()
	e.origin = start // Progress Elapsed: of the wait (the seeding's time is taken)
	e.mu.Unlock()
	wait := indexWaitFor(n)
	found := func(i int, poll time.Duration) error {
		for {
			res, err := senders[i].Client().Search(ctx, client.SearchQuery{Q: token(e.run, i), Limit: 10})
			if err == nil && hasToken(res.Hits, e.run, i) {
				return nil
			}
			if err != nil {
				e.fail("search", err)
			}
			if time.Since(start) > wait {
				return fmt.Errorf("message %d not searchable %s after seeding", i, wait)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(poll):
			}
		}
	}
	if e.rep.SeedMode == "bulk" && n >= 2*progressProbes {
		e.total.Store(int64(n))
		for k := 1; k < progressProbes; k++ {
			i := k * n / progressProbes
			if !e.tr.msgs[i].acked.Load() {
				continue
			}
			if err := found(i, 250*time.Millisecond); err != nil {
				return err
			}
			e.done.Store(int64(i + 1))
		}
	}
	var last []int
	for i := n - 1; i >= 0 && len(last) < 10; i-- {
		if e.tr.msgs[i].acked.Load() {
			last = append(last, i)
		}
	}
	for _, i := range last {
		if err := found(i, lagPoll); err != nil {
			return err
		}
	}
	e.done.Store(int64(n))
	e.rep.IndexCatchUpSeconds = time.Since(start).Seconds()
	return nil
}

// queryPhase runs the queries, paced at QueryRate (open loop, latency
// from the scheduled time).
func (e *engine) queryPhase(ctx context.Context, users []*member, chatOf []*chatInfo) error {
	cfg := e.cfg
	flowDone := make(chan struct{})
	if cfg.FlowRate > 0 {
		go func() { defer close(flowDone); e.flow(ctx, users, chatOf) }()
	} else {
		close(flowDone)
	}
	defer func() { <-flowDone }()
	origin := time.Now().Add(50 * time.Millisecond)
	e.startTimed(origin)
	lat, took := NewSamples(0), NewSamples(0)
	var hits atomic.Int64
	paceEach(ctx, origin, int(cfg.QueryRate*cfg.Duration.Seconds()), cfg.QueryRate, cfg.Concurrency, func(i int, at time.Time) {
		h := mix(uint64(i) ^ 0x5ea7c4)
		m := users[h%uint64(len(users))]
		qctx, cancel := context.WithTimeout(ctx, sendTimeout)
		defer cancel()
		res, err := m.Client().Search(qctx, client.SearchQuery{Q: skewedWord(mix(h)), Limit: 20})
		if err != nil {
			e.fail("search", err)
			return
		}
		lat.Add(time.Since(at))
		took.Add(time.Duration(res.TookMs) * time.Millisecond)
		hits.Add(int64(res.EstimatedTotal))
		e.queries.Add(1)
	})
	e.endTimed()
	e.rep.SearchQuery, e.rep.SearchTook = lat.Summary(), took.Summary()
	if q := e.queries.Load(); q > 0 {
		e.rep.SearchHitsMean = float64(hits.Load()) / float64(q)
	}
	return ctx.Err()
}

// flow sends FlowRate messages a second over REST for Duration (the query
// phase), round-robin over the users, numbered after the seeded ones so
// their tokens are unique, and samples their index lag.
func (e *engine) flow(ctx context.Context, users []*member, chatOf []*chatInfo) {
	cfg := e.cfg
	base := len(e.tr.msgs)
	origin := time.Now().Add(50 * time.Millisecond)
	lag := newLagSampler(e)
	var sent, failed atomic.Int64
	paceEach(ctx, origin, int(cfg.FlowRate*cfg.Duration.Seconds()), cfg.FlowRate, cfg.Concurrency, func(i int, _ time.Time) {
		k := base + i
		m := users[i%len(users)]
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		defer cancel()
		_, _, err := m.Client().Send(sctx, chatOf[m.i].id, client.NewMessage{Content: content(e.run, k), IdempotencyKey: e.run + "-" + strconv.Itoa(k)})
		if err != nil {
			failed.Add(1)
			e.fail("flow send", err)
			return
		}
		sent.Add(1)
		lag.maybeSample(ctx, m, k, time.Now())
	})
	elapsed := time.Since(origin)
	lag.wait(cfg.Drain)
	f := &SearchFlow{Sent: sent.Load(), Failed: failed.Load(), IndexLag: lag.samples.Summary(), IndexLagMissed: lag.missed.Load()}
	if elapsed > 0 {
		f.RatePerSec = float64(f.Sent) / elapsed.Seconds()
	}
	e.mu.Lock()
	e.rep.SearchFlow = f
	e.mu.Unlock()
}

// paceEach runs fn(i, at) for i in [0, n), each at its scheduled time at,
// rate a second from origin (open loop: a late answer does not delay the
// next start), at most limit at once, and returns once all are done.
func paceEach(ctx context.Context, origin time.Time, n int, rate float64, limit int, fn func(i int, at time.Time)) {
	interval := float64(time.Second) / rate
	at := func(i int) time.Time { return origin.Add(time.Duration(float64(i) * interval)) }
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	pace(ctx, n, at, func(i int) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i, at(i))
		})
	})
	wg.Wait()
}
