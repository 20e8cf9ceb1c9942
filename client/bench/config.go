package bench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Workloads.
const (
	// Seed is the owner's 200-user day (50 messages per user) compressed
	// into Duration: a #general channel, teams, direct messages, with the
	// typing, read and presence frames real clients send.
	Seed = "seed"
	// Fanout sends Rate messages a second into chats of ChatSize members.
	Fanout = "fanout"
	// Connections holds Users idle WebSockets to measure server memory per
	// connection.
	Connections = "connections"
	// Channel sends Rate messages a second into one channel of Users
	// members (--members), every member sending in turn: each message is
	// delivered to every member's connection.
	Channel = "channel"
	// Search seeds Messages messages and measures index lag and query
	// latency.
	Search = "search"
)

// Workloads lists the workload names.
func Workloads() []string { return []string{Seed, Fanout, Connections, Search, Channel} }

// Transports for sends.
const (
	TransportWS   = "ws"   // message.send on the sender's WebSocket, answered by ack
	TransportREST = "rest" // POST /chats/{id}/messages
)

// DefaultSendLimit is the server's default per-user send rate (config
// limits.send_rate.per_second); a plan above it draws 429s unless the
// server runs with a raised limit.
const DefaultSendLimit = 20.0

// messagesPerUserDay is the owner's sizing: 50 messages per user a day.
const messagesPerUserDay = 50

// Config is one run. Zero values take the workload's defaults (Defaults).
type Config struct {
	// URL is the server, http://host:port, or several instances of one
	// cluster separated by commas: users are spread over them round-robin
	// (user i's REST calls and WebSocket go to instance i mod n), and the
	// report splits delivery latency by same- and cross-instance pairs.
	URL      string
	Workload string
	// Users to sign up. Default: seed 200; fanout enough that each sends
	// a message every 4 seconds (at least 100); search at most 5 a second
	// (at least 20); connections 1000.
	Users int
	// ChatSize is the members per chat (seed: per team). Default 10.
	ChatSize int
	// Rate is messages per second sent (search: while seeding). Default:
	// seed Users*50/Duration, fanout 100, search 500.
	Rate float64
	// Duration of the timed phase: sending (seed, fanout), holding the
	// connections open (connections), querying (search). Default 30s;
	// connections 10s, search 20s.
	Duration time.Duration
	// Concurrency bounds the requests in flight (sends, sign-ups, dials,
	// queries). Default 256.
	Concurrency int
	// Messages to seed (search). Default 10,000.
	Messages int
	// QueryRate is search queries per second (search). Default 20.
	QueryRate float64
	// FlowRate is messages per second that keep flowing while the queries
	// run (search), each a candidate for the index-lag sample, so that
	// query latency and index lag are measured under writes. Default 0:
	// none.
	FlowRate float64
	// Transport of sends: TransportWS (default) or TransportREST. Search
	// seeds over REST.
	Transport string
	// Drain is how long to wait for missing deliveries after the last
	// send. Default 10s.
	Drain time.Duration
	// PID of the server process, for its memory and CPU; 0: not measured.
	PID int
	// PIDs of the server processes when the run drives several instances:
	// the report adds their CPU up (Cluster) and shows each one's.
	PIDs []int
	// Database, when set, limits the Postgres CPU figure to the client
	// backends of that database (plus Postgres' own background
	// processes), leaving out other databases' work on a shared server.
	Database string
	// HTTPClient for REST calls; default one sized to Concurrency.
	HTTPClient *http.Client
	// Progress, if set, is called about once a second while the run goes.
	Progress func(Progress)
	// Retry (--retry) makes the users recover as a client must through
	// faults: a send that fails or goes unanswered is made again with the
	// same idempotency key, a dropped WebSocket is dialled again (on the
	// next instance of URL when its own refuses connections) and followed
	// by a catch-up with after_seq, and a refused token is replaced by a
	// sign-in (Retrier). The report says what it did (Report.Retry).
	Retry bool
	// Verify (--verify) reads every chat back at the end and reports
	// acknowledged messages missing, duplicated or out of order, and seq
	// gaps (Report.Verify).
	Verify bool
	// Seeder, if set, makes the search workload seed its Messages in bulk,
	// straight into the server's storage (SeedBatch at a time), instead of
	// sending them over REST: sign-ups, chats, the index wait and the
	// queries stay the same. The server still indexes them from their
	// message.created events (bench --seed-bulk).
	Seeder Seeder
}

// Seeder stores the messages of the search workload as the server's send
// path would (gapless seqs, and a message.created event each for its
// relay and indexer), many at once.
type Seeder interface {
	SeedMessages(ctx context.Context, batch []SeedMessage) error
}

// SeedMessage is one message to seed: sent by SenderID, a member of ChatID.
type SeedMessage struct {
	ChatID         int64
	SenderID       int64
	Content        string
	IdempotencyKey string
}

// SeedBatch is how many messages a Seeder is given at once.
const SeedBatch = 5000

// Progress is a snapshot of a running benchmark.
type Progress struct {
	Workload string
	Phase    string // "sign-up", "chats", "connect", "run", "drain", "index", "query", ...
	Done     int64  // of Total, in setup phases
	Total    int64
	Elapsed  time.Duration // in the timed phase
	Duration time.Duration
	Sent     int64 // acknowledged sends
	Failed   int64
	Expected int64 // deliveries expected and received so far
	Received int64
	Queries  int64
	Conns    int64 // open WebSockets
	RSS      int64 // server VmRSS, bytes (with PID)
}

// WithDefaults fills in the zero values.
func (c Config) WithDefaults() Config {
	if c.Workload == "" {
		c.Workload = Fanout
	}
	if c.ChatSize <= 0 {
		c.ChatSize = 10
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 256
	}
	if c.Transport == "" {
		c.Transport = TransportWS
	}
	if c.Drain <= 0 {
		c.Drain = 10 * time.Second
	}
	if c.QueryRate <= 0 {
		c.QueryRate = 20
	}
	switch c.Workload {
	case Seed:
		if c.Users <= 0 {
			c.Users = 200
		}
		if c.Duration <= 0 {
			c.Duration = 30 * time.Second
		}
		if c.Rate <= 0 {
			c.Rate = float64(c.Users*messagesPerUserDay) / c.Duration.Seconds()
		}
	case Fanout:
		if c.Rate <= 0 {
			c.Rate = 100
		}
		if c.Users <= 0 {
			c.Users = max(100, int(math.Ceil(c.Rate*4)))
		}
		if c.Duration <= 0 {
			c.Duration = 30 * time.Second
		}
	case Channel:
		if c.Users <= 0 {
			c.Users = 1000
		}
		if c.Rate <= 0 {
			c.Rate = 20
		}
		if c.Duration <= 0 {
			c.Duration = 30 * time.Second
		}
		c.ChatSize = c.Users // one chat of everyone
	case Connections:
		if c.Users <= 0 {
			c.Users = 1000
		}
		if c.Duration <= 0 {
			c.Duration = 10 * time.Second
		}
	case Search:
		if c.Rate <= 0 {
			c.Rate = 500
		}
		if c.Users <= 0 {
			c.Users = max(20, int(math.Ceil(c.Rate/5)))
		}
		if c.Messages <= 0 {
			c.Messages = 10_000
		}
		if c.Duration <= 0 {
			c.Duration = 20 * time.Second
		}
		c.Transport = TransportREST
	}
	if c.Workload != Seed && c.Workload != Connections {
		// Whole chats: every user is in exactly one.
		c.Users = (c.Users + c.ChatSize - 1) / c.ChatSize * c.ChatSize
	}
	return c
}

// Validate reports a configuration that cannot run.
func (c Config) Validate() error {
	for _, raw := range c.URLs() {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("bench: --url %q must be http(s)://host:port (several: comma-separated)", raw)
		}
	}
	if len(c.URLs()) == 0 {
		return fmt.Errorf("bench: --url %q must be http(s)://host:port (several: comma-separated)", c.URL)
	}
	switch {
	case !slices.Contains(Workloads(), c.Workload):
		return fmt.Errorf("bench: unknown workload %q: one of %v", c.Workload, Workloads())
	case c.Transport != TransportWS && c.Transport != TransportREST:
		return fmt.Errorf("bench: transport %q: %q or %q", c.Transport, TransportWS, TransportREST)
	case c.Users < 2:
		return fmt.Errorf("bench: --users %d: at least 2", c.Users)
	case c.ChatSize < 2 || c.ChatSize > 1000:
		return fmt.Errorf("bench: --chat-size %d: 2..1000 (the server's channel limit)", c.ChatSize)
	case c.Workload != Connections && c.Workload != Seed && c.ChatSize > c.Users:
		return fmt.Errorf("bench: --chat-size %d is more than --users %d", c.ChatSize, c.Users)
	case c.Rate < 0 || math.IsInf(c.Rate, 0) || math.IsNaN(c.Rate) || c.Rate > 1e6:
		return fmt.Errorf("bench: --rate %g: 0..1e6 messages a second", c.Rate)
	case c.Duration < 0 || c.Duration > 24*time.Hour:
		return fmt.Errorf("bench: --duration %s: up to 24h", c.Duration)
	case c.Users > 1_000_000:
		return fmt.Errorf("bench: --users %d: at most 1,000,000", c.Users)
	case c.FlowRate < 0 || math.IsInf(c.FlowRate, 0) || math.IsNaN(c.FlowRate) || c.FlowRate > 1e6:
		return fmt.Errorf("bench: --flow-rate %g: 0..1e6 messages a second", c.FlowRate)
	case c.Messages > 100_000_000:
		return fmt.Errorf("bench: --messages %d: at most 100,000,000", c.Messages)
	case c.Seeder != nil && c.Workload != Search:
		return fmt.Errorf("bench: bulk seeding (--seed-bulk) is for --workload %s, not %s", Search, c.Workload)
	}
	return nil
}

// URLs are the instances URL lists, in order.
func (c Config) URLs() []string {
	var out []string
	for u := range strings.SplitSeq(c.URL, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// sends is how many messages the run schedules.
func (c Config) sends() int {
	if c.Workload == Search {
		return c.Messages
	}
	return int(math.Round(c.Rate * c.Duration.Seconds()))
}
