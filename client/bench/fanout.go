package bench

import (
	"context"
	"fmt"
)

// fanout: Users in chats of ChatSize, each with a WebSocket; Rate
// messages a second for Duration, sent in turn by every user into its own
// chat (consecutive sends to different chats), so each send fans out to
// ChatSize connections.
func (e *engine) fanout(ctx context.Context) error {
	cfg := e.cfg
	users, err := e.signUp(ctx, cfg.Users)
	if err != nil {
		return err
	}
	chatOf := make([]*chatInfo, len(users))
	var specs []chatSpec
	for k := 0; k+cfg.ChatSize <= len(users); k += cfg.ChatSize {
		specs = append(specs, chatSpec{typ: groupType(cfg.ChatSize), name: fmt.Sprintf("fanout %d", k/cfg.ChatSize), members: users[k : k+cfg.ChatSize]})
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
	e.setTracker(newTracker(cfg.sends(), cfg.Rate))
	e.lag = newLagSampler(e)
	if err := e.connect(ctx, users, false); err != nil {
		return err
	}
	per := cfg.Rate / float64(len(users))
	e.note("each user sends %.2f messages/s; each chat of %d gets %.1f/s", per, cfg.ChatSize, per*float64(cfg.ChatSize))
	if per > DefaultSendLimit {
		e.note("each user sends %.1f messages/s, above the default limit of %g/s: start the server with FECHATTER_LIMITS_SEND_RATE_PER_SECOND and _BURST raised, or add --users", per, DefaultSendLimit)
	}
	e.sendPhase(ctx, 0, func(i int) (*member, *chatInfo) {
		m := users[interleave(i, len(chats), cfg.ChatSize)]
		return m, chatOf[m.i]
	}, nil)
	e.drain(ctx)
	e.lag.wait(e.cfg.Drain)
	return ctx.Err()
}

// interleave picks the sender of message i among chats chats of size
// members each (user k*size+j is member j of chat k): consecutive messages
// go to different chats, and each user sends in turn, so every chat gets an
// even share of the rate rather than bursts.
func interleave(i, chats, size int) int {
	return (i%chats)*size + (i/chats)%size
}
