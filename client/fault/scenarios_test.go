package fault

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fechatter/fechatter/client"
)

// The scenarios that need more than a process to break: the search
// backend's outage is checked by searching for what was sent during it,
// and a stalled reader by its close code and by the others' latency.

// caughtUp is what searching for the messages of an outage found.
type caughtUp struct {
	found, sampled int
	after          time.Duration // from the backend's return to the last one found
}

// watchSearch samples up to 20 of the messages acknowledged in [from, to)
// and searches for each (as its sender, in its chat) until all are found or
// limit passes, from when the backend is back (to). It runs beside the
// load; the result comes on the channel.
func (l *load) watchSearch(from, to time.Time, limit time.Duration) <-chan caughtUp {
	out := make(chan caughtUp, 1)
	go func() {
		l.mu.Lock()
		msgs := l.msgs
		l.mu.Unlock()
		var during []int
		for i, m := range msgs {
			if !m.sched.Before(from) && m.sched.Before(to) && m.acked.Load() {
				during = append(during, i)
			}
		}
		step := max(len(during)/20, 1)
		missing := map[int]bool{}
		for k := 0; k < len(during); k += step {
			missing[during[k]] = true
		}
		r := caughtUp{sampled: len(missing)}
		deadline := to.Add(limit)
		for len(missing) > 0 && time.Now().Before(deadline) {
			for i := range missing {
				m := msgs[i]
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				res, err := m.sender.Client().Search(ctx, client.SearchQuery{Q: l.run + " " + strconv.Itoa(i), ChatID: m.chat.id, Limit: 100})
				cancel()
				if err != nil {
					continue // 503 while the index is away: ask again
				}
				for _, h := range res.Hits {
					if h.Message.Content == l.content(i) {
						delete(missing, i)
						r.after = time.Since(to)
						break
					}
				}
			}
			if len(missing) > 0 {
				time.Sleep(250 * time.Millisecond) // polling search (lightly: it is load), bounded by the deadline
			}
		}
		r.found = r.sampled - len(missing)
		out <- r
	}()
	return out
}

// stall: a member of chat 0 opens a second connection whose reader stops
// (its frame handler blocks, as a frozen client's would) while the chat's
// owner sends 2 KB messages into a chat of those members at 30/s. First a
// control window with the same side load and every connection reading,
// then the stall for as long: the stalled connection must be closed with
// 1008 (a close frame it reads, once it reads again within the server's
// close grace, after the frames before it), and the others' delivery p99
// is reported for both windows.
func (l *load) stall(t *testing.T, servers []*server, window time.Duration) string {
	c := l.chats[0]
	owner, victim := c.members[0], c.members[1]
	ctx, cancel := context.WithTimeout(context.Background(), 2*window+time.Minute)
	defer cancel()
	ids := make([]int64, 0, len(c.members)-1)
	for _, m := range c.members[1:] {
		ids = append(ids, m.id)
	}
	side, err := owner.Client().CreateChat(ctx, client.NewChat{Type: client.Group, Name: "stall", MemberIDs: ids})
	if err != nil {
		t.Fatalf("stall: create the chat: %v", err)
	}
	var stalling atomic.Bool
	release := make(chan struct{})
	conn, err := victim.Client().Dial(ctx, client.DialOptions{Platform: "fault-stall", OnFrame: func(f client.Frame) {
		if stalling.Load() && f.Type == client.FrameMessageCreated {
			<-release
		}
	}})
	if err != nil {
		t.Fatalf("stall: dial: %v", err)
	}
	defer conn.Close()
	srv := servers[victim.Instance()]
	closesBefore := slowCloses(srv)

	stopSide := make(chan struct{})
	var sideWG sync.WaitGroup
	var sideSent, sideFailed atomic.Int64
	sideWG.Go(func() {
		content := strings.Repeat("stalled ", 256) // 2 KB
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		for {
			select {
			case <-stopSide:
				return
			case <-tick.C:
			}
			sideWG.Go(func() {
				sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
				defer scancel()
				if _, _, err := owner.Client().Send(sctx, side.ID, client.NewMessage{Content: content}); err != nil {
					sideFailed.Add(1)
					return
				}
				sideSent.Add(1)
			})
		}
	})

	controlAt := time.Now()
	time.Sleep(window)
	stallAt := time.Now()
	stalling.Store(true)
	closedAfter := time.Duration(-1)
	waitUntil(window+20*time.Second, func() bool {
		if slowCloses(srv) > closesBefore {
			closedAfter = time.Since(stallAt)
			return true
		}
		return false
	})
	// The client reads again now, within the server's close grace (2 s):
	// it must find the close frame after the frames written before it. (A
	// client frozen for good receives nothing; the server then drops the
	// socket after the grace.)
	close(release)
	code := 0
	select {
	case <-conn.Done():
		code = client.CloseCode(conn.Err())
	case <-time.After(15 * time.Second):
	}
	if rest := time.Until(stallAt.Add(window)); rest > 0 {
		time.Sleep(rest) // the stall window is as long as the control's
	}
	close(stopSide)
	sideWG.Wait()
	if code != 1008 {
		t.Errorf("client-stall: the stalled connection ended with close code %d (err %v), want 1008", code, conn.Err())
	}
	if closedAfter < 0 {
		t.Errorf("client-stall: the server did not count a slow-consumer close within %s of the stall", window+20*time.Second)
	}
	control, cn := l.p99(controlAt, stallAt)
	stalled, sn := l.p99(stallAt, stallAt.Add(window))
	return fmt.Sprintf("a second connection of a member of a %d-member chat stopped reading for %s while %d messages of 2 KB went to that chat (30/s, %d failed): "+
		"closed with %d %s after the stall began; the others' delivery p99 in %s with every connection reading %s (%d deliveries), with the stalled one %s (%d)",
		len(c.members), window, sideSent.Load(), sideFailed.Load(), code, seconds(closedAfter), window, ms(control), cn, ms(stalled), sn)
}

func seconds(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(100 * time.Millisecond).String()
}

// slowCloses reads fechatter_websocket_slow_consumer_closes_total from the
// server's /metrics (-1 when it cannot).
func slowCloses(s *server) int64 {
	hc := http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get(s.base() + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "fechatter_websocket_slow_consumer_closes_total "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int64(n)
			}
		}
	}
	return -1
}
