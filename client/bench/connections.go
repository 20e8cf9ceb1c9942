package bench

import (
	"context"
	"fmt"
	"time"
)

// connections: Users idle WebSockets (one per user, in chats of ChatSize)
// held for Duration, to measure the server's memory per connection:
// (VmRSS after the dials - VmRSS before) / connections opened.
func (e *engine) connections(ctx context.Context) error {
	cfg := e.cfg
	users, err := e.signUp(ctx, cfg.Users)
	if err != nil {
		return err
	}
	var specs []chatSpec
	for k := 0; k < len(users); k += cfg.ChatSize {
		end := min(k+cfg.ChatSize, len(users))
		if len(users)-end == 1 {
			end = len(users)
		}
		specs = append(specs, chatSpec{typ: groupType(end - k), name: fmt.Sprintf("idle %d", len(specs)), members: users[k:end]})
		if end == len(users) {
			break
		}
	}
	if _, err := e.createChats(ctx, specs); err != nil {
		return err
	}
	if cfg.PID == 0 {
		e.note("no --pid: server memory per connection not measured")
	}
	start := time.Now()
	e.startTimed(start)
	err = e.connect(ctx, users, true)
	e.rep.Connections.ConnectSeconds = time.Since(start).Seconds()
	if err == nil {
		err = e.settle(ctx)
	}
	e.setPhase("hold", 0)
	var idle ProcSample
	if cfg.PID > 0 {
		idle, _ = ReadProc(cfg.PID)
	}
	if err == nil {
		t := time.NewTimer(cfg.Duration)
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-t.C:
		}
		t.Stop()
	}
	if cfg.PID > 0 && !idle.At.IsZero() {
		if end, rerr := ReadProc(cfg.PID); rerr == nil {
			if secs := end.At.Sub(idle.At).Seconds(); secs > 0 {
				e.rep.Connections.IdleCPUCores = (end.CPUTime - idle.CPUTime).Seconds() / secs
			}
		}
	}
	e.endTimed()
	return err
}

// Settling: the connect burst leaves work behind it (every user's
// presence.updated to each partner, last seen times to save), which is not
// what idle sockets cost. The hold starts once no frame has arrived for
// settleQuiet, or after settleMax; the report says how long that took and
// what the server spent meanwhile.
const (
	settleQuiet = 2 * time.Second
	settleMax   = 60 * time.Second
	settlePoll  = 250 * time.Millisecond
)

func (e *engine) settle(ctx context.Context) error {
	e.setPhase("settle", 0)
	start := time.Now()
	var before ProcSample
	if e.cfg.PID > 0 {
		before, _ = ReadProc(e.cfg.PID)
	}
	frames := func() int64 {
		var n int64
		for _, v := range e.frames.snapshot() {
			n += v
		}
		return n
	}
	last, quietSince := frames(), time.Now()
	t := time.NewTicker(settlePoll)
	defer t.Stop()
	for time.Since(quietSince) < settleQuiet && time.Since(start) < settleMax {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if n := frames(); n != last {
			last, quietSince = n, time.Now()
		}
	}
	if time.Since(quietSince) < settleQuiet {
		e.note("frames still arriving %s after the dials: the hold starts anyway", settleMax)
	}
	e.rep.Connections.SettleSeconds = time.Since(start).Seconds()
	if e.cfg.PID > 0 && !before.At.IsZero() {
		if end, err := ReadProc(e.cfg.PID); err == nil {
			if secs := end.At.Sub(before.At).Seconds(); secs > 0 {
				e.rep.Connections.SettleCPUCores = (end.CPUTime - before.CPUTime).Seconds() / secs
			}
		}
	}
	return nil
}
