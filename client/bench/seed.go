package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/fechatter/fechatter/client"
)

// The seed workload's shape of a company's day.
const (
	seedGeneralPct = 5  // of messages go to #general (everyone)
	seedTeamPct    = 55 // to the sender's team; the rest to a direct chat
	typingLead     = 500 * time.Millisecond
	channelLimit   = 1000 // the server's default channel size limit
)

// seed: the owner's sizing, 200 users sending 50 messages each in a day,
// compressed into Duration. Every user is in #general (a public channel),
// a team of ChatSize and two direct chats (with the users before and after
// it); 5% of messages go to #general, 55% to the team, 40% to a direct
// chat. Clients behave as the web client does: a typing frame before each
// send, a read frame a moment after receiving (folded per chat), and each
// user steps away once (presence away, then online).
func (e *engine) seed(ctx context.Context) error {
	cfg := e.cfg
	users, err := e.signUp(ctx, cfg.Users)
	if err != nil {
		return err
	}
	n := len(users)
	general := chatSpec{typ: client.PublicChannel, name: "general", members: users[:min(n, channelLimit)]}
	specs := []chatSpec{general}
	for k := 0; k < n; k += cfg.ChatSize {
		end := min(k+cfg.ChatSize, n)
		if n-end == 1 { // no team of one: the last user joins this team
			end = n
		}
		specs = append(specs, chatSpec{typ: groupType(end - k), name: fmt.Sprintf("team %d", len(specs)), members: users[k:end]})
		if end == n {
			break
		}
	}
	teams := len(specs) - 1
	dms := n
	if n == 2 {
		dms = 1
	}
	for i := range dms {
		specs = append(specs, chatSpec{typ: client.Direct, members: []*member{users[i], users[(i+1)%n]}})
	}
	chats, err := e.createChats(ctx, specs)
	if err != nil {
		return err
	}
	teamOf := make([]*chatInfo, n)
	for _, c := range chats[1 : 1+teams] {
		for _, m := range c.members {
			teamOf[m.i] = c
		}
	}
	dmNext := chats[1+teams:]
	e.setTracker(newTracker(cfg.sends(), cfg.Rate))
	e.lag = newLagSampler(e)
	e.reads = true // before the readers start
	if err := e.connect(ctx, users, false); err != nil {
		return err
	}
	if per := cfg.Rate / float64(n); per > DefaultSendLimit {
		e.note("each user sends %.1f messages/s on average, above the default limit of %g/s", per, DefaultSendLimit)
	}
	day := 8 * time.Hour
	e.note("a %s working day of %d messages compressed %.0fx into %s", day, cfg.sends(), day.Seconds()/cfg.Duration.Seconds(), cfg.Duration)
	// Each user steps away once, somewhere in the middle of the run.
	for _, m := range users {
		h := mix(uint64(m.i) + 77)
		away := time.Duration((0.2 + 0.4*float64(h%1000)/1000) * float64(cfg.Duration))
		e.after(away, func() {
			e.clientFrame(m, "presence", func(c *client.Conn) error { return c.SetPresence("away") })
		})
		e.after(away+cfg.Duration/5, func() {
			e.clientFrame(m, "presence", func(c *client.Conn) error { return c.SetPresence("online") })
		})
	}
	plan := func(i int) (*member, *chatInfo) {
		h := mix(uint64(i) ^ 0x5eed)
		m := users[h%uint64(n)]
		switch r := (h >> 32) % 100; {
		case r < seedGeneralPct && m.i < len(general.members):
			return m, chats[0]
		case r < seedGeneralPct+seedTeamPct:
			return m, teamOf[m.i]
		case dms == 1 || (h>>48)&1 == 0:
			return m, dmNext[m.i%dms]
		default:
			return m, dmNext[(m.i-1+n)%n]
		}
	}
	e.sendPhase(ctx, typingLead, plan, func(i int, m *member, c *chatInfo) {
		e.clientFrame(m, "typing", func(k *client.Conn) error { return k.Typing(c.id, true) })
	})
	e.drain(ctx)
	e.lag.wait(e.cfg.Drain)
	return ctx.Err()
}
