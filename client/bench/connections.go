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
	e.startTimed(time.Now())
	err = e.connect(ctx, users, true)
	e.setPhase("hold", 0)
	if err == nil {
		t := time.NewTimer(cfg.Duration)
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-t.C:
		}
		t.Stop()
	}
	e.endTimed()
	return err
}
