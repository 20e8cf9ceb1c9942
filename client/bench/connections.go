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
