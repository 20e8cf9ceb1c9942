package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// ReportVersion is the version of the report's JSON shape.
const ReportVersion = 1

// Report is what a run measured. Latencies are in milliseconds.
type Report struct {
	Version   int       `json:"version"`
	StartedAt time.Time `json:"started_at"`
	Machine   Machine   `json:"machine"`
	Workload  string    `json:"workload"`
	Flags     Flags     `json:"flags"`
	Setup     Setup     `json:"setup"`
	// LoadAverage is the machine's 1-minute load average at the start and
	// the end of the timed phase: more than the CPUs means other work
	// competed with the run.
	LoadAverage [2]float64 `json:"load_average"`
	// ElapsedSeconds is the timed phase: from the first scheduled send (or
	// query, or the first dial) to its end, without the drain.
	ElapsedSeconds float64 `json:"elapsed_seconds"`

	Messages   Messages   `json:"messages"`
	Deliveries Deliveries `json:"deliveries"`
	// SendLatency runs from the scheduled time of a send to its ack (or
	// 201): a server that falls behind makes the queue, and so the
	// latency, grow (open loop).
	SendLatency Summary `json:"send_latency"`
	// DeliveryLatency runs from the scheduled time of a send to the read
	// of its message.created on each member's connection (same clock).
	DeliveryLatency Summary `json:"delivery_latency"`
	// With several instances (--url lists them), DeliveryLatency split:
	// deliveries to a connection on the sender's instance, and to one on
	// another instance (through NATS from one server to the other).
	DeliveryLatencySameInstance  Summary `json:"delivery_latency_same_instance,omitzero"`
	DeliveryLatencyCrossInstance Summary `json:"delivery_latency_cross_instance,omitzero"`
	// ScheduleLag is how late the generator itself started sends: large
	// values mean the generator, not the server, was the bottleneck.
	ScheduleLag Summary `json:"schedule_lag"`
	// IndexLag runs from a send's ack to the first search that finds it
	// (sampled; polling every 20 ms).
	IndexLag       Summary `json:"index_lag"`
	IndexLagMissed int64   `json:"index_lag_missed"` // samples never found
	// SearchQuery is the latency of search queries (search workload).
	SearchQuery Summary `json:"search_query"`
	// SearchTook is the server's own took_ms of those queries.
	SearchTook Summary `json:"search_took"`
	// SearchFlow is the messages sent while the queries ran (search,
	// --flow-rate) and their index lag.
	SearchFlow *SearchFlow `json:"search_flow,omitempty"`
	// SearchHitsMean is the mean estimated_total of those queries.
	SearchHitsMean float64 `json:"search_hits_mean"`
	// IndexCatchUpSeconds (search): from the last ack until the last
	// messages were searchable.
	IndexCatchUpSeconds float64 `json:"index_catch_up_seconds"`
	// SeedMode (search) is how the messages were seeded: "send" (over
	// REST, Messages.RatePerSec) or "bulk" (--seed-bulk: straight into
	// the database, SeedBatch to a transaction, indexed from their
	// events); SeedSeconds and SeedRatePerSec time it.
	SeedMode       string  `json:"seed_mode,omitempty"`
	SeedSeconds    float64 `json:"seed_seconds,omitempty"`
	SeedRatePerSec float64 `json:"seed_rate_per_second,omitempty"`

	Connections ConnStats        `json:"connections"`
	Errors      map[string]int64 `json:"errors"` // "operation code": count
	// Frames counts the server frames received, by type, and the frames
	// the clients sent as "sent <type>".
	Frames map[string]int64 `json:"frames"`
	Server *ServerStats     `json:"server,omitempty"`
	// Cluster is the servers' resources together when the run measured
	// several (PIDs): the CPU of all instances per message sent.
	Cluster *ClusterStats `json:"cluster,omitempty"`
	// Postgres is the CPU of the local Postgres processes over the timed
	// phase (when Postgres runs on this machine).
	Postgres  *PostgresStats `json:"postgres,omitempty"`
	Generator ProcStats      `json:"generator"` // the load generator's own CPU and memory
	// Retry is what --retry did: resends, reconnects, catch-ups.
	Retry *RetryStats `json:"retry,omitempty"`
	// Verify is what --verify found reading every chat back.
	Verify *Verification `json:"verify,omitempty"`
	Notes  []string      `json:"notes,omitempty"`
}

// SearchFlow is the writes that flowed during the search queries.
type SearchFlow struct {
	Sent           int64   `json:"sent"`
	Failed         int64   `json:"failed"`
	RatePerSec     float64 `json:"rate_per_second"`
	IndexLag       Summary `json:"index_lag"`
	IndexLagMissed int64   `json:"index_lag_missed"` // samples never found
}

// Flags are the knobs of the run, after defaults.
type Flags struct {
	URL         string  `json:"url"`
	Users       int     `json:"users"`
	ChatSize    int     `json:"chat_size"`
	Rate        float64 `json:"rate"`
	Duration    string  `json:"duration"`
	Concurrency int     `json:"concurrency"`
	Messages    int     `json:"messages,omitempty"`
	QueryRate   float64 `json:"query_rate,omitempty"`
	FlowRate    float64 `json:"flow_rate,omitempty"`
	Transport   string  `json:"transport"`
	PID         int     `json:"pid,omitempty"`
	Instances   int     `json:"instances,omitempty"` // the instances URL lists, when more than one
	PIDs        []int   `json:"pids,omitempty"`
	Retry       bool    `json:"retry,omitempty"`
	Verify      bool    `json:"verify,omitempty"`
}

// Setup is what the run built before the timed phase.
type Setup struct {
	Workspace string  `json:"workspace"`
	Users     int     `json:"users"`
	Chats     int     `json:"chats"`
	Seconds   float64 `json:"seconds"`
}

// Messages counts sends.
type Messages struct {
	Scheduled int64 `json:"scheduled"`
	Sent      int64 `json:"sent"` // acknowledged (ack or 201)
	Failed    int64 `json:"failed"`
	// Skipped sends never started: the server was more than 10s behind
	// the schedule (or the run was interrupted).
	Skipped    int64   `json:"skipped"`
	RatePerSec float64 `json:"rate_per_second"` // sent / elapsed
}

// Deliveries compares the message.created frames expected (each member
// connection of the chat of each acknowledged send) with those received,
// matched by (chat_id, seq) per connection. Lost counts those not received
// by the end of the drain (--drain after the last send): lost, or late.
type Deliveries struct {
	Expected   int64   `json:"expected"`
	Received   int64   `json:"received"`
	Lost       int64   `json:"lost"`
	LossRatio  float64 `json:"loss_ratio"`
	Duplicates int64   `json:"duplicates"`   // the same (chat_id, seq) twice on one connection
	OutOfOrder int64   `json:"out_of_order"` // a lower seq after a higher one on one connection
	// Unacked counts deliveries of sends that failed on the client side
	// (a timeout, say) yet were committed.
	Unacked    int64   `json:"unacked"`
	RatePerSec float64 `json:"rate_per_second"`
}

// ConnStats counts WebSockets.
type ConnStats struct {
	Opened  int64 `json:"opened"`
	Failed  int64 `json:"failed"`
	Dropped int64 `json:"dropped"` // closed by the server or the network during the run
	// connections workload: how long the dials took (all of them, from the
	// first); how long until the burst's aftermath (presence frames) had
	// passed, no frame for 2 s, and the server's CPU meanwhile; then the
	// server's CPU while the connections sat idle (the hold, with --pid).
	ConnectSeconds float64 `json:"connect_seconds,omitempty"`
	SettleSeconds  float64 `json:"settle_seconds,omitempty"`
	SettleCPUCores float64 `json:"settle_cpu_cores,omitempty"`
	IdleCPUCores   float64 `json:"idle_cpu_cores,omitempty"`
}

// ProcStats is one process's resources over the timed phase.
type ProcStats struct {
	RSSBeforeBytes int64   `json:"rss_before_bytes"`
	RSSAfterBytes  int64   `json:"rss_after_bytes"`
	RSSPeakBytes   int64   `json:"rss_peak_bytes"`
	CPUSeconds     float64 `json:"cpu_seconds"` // utime+stime used in the timed phase
	CPUCores       float64 `json:"cpu_cores"`   // CPUSeconds / elapsed
}

// ServerStats is the server's resources (with --pid).
type ServerStats struct {
	PID int `json:"pid"`
	ProcStats
	// PerConnectionBytes (connections): (RSS after - RSS before) / opened.
	PerConnectionBytes int64 `json:"per_connection_bytes,omitempty"`
	// CPUMsPerMessage is CPUSeconds per message sent, in milliseconds.
	CPUMsPerMessage float64 `json:"cpu_ms_per_message,omitempty"`
}

// ClusterStats is several server instances' resources over the timed
// phase.
type ClusterStats struct {
	Instances       int           `json:"instances"`
	CPUSeconds      float64       `json:"cpu_seconds"` // all instances
	CPUCores        float64       `json:"cpu_cores"`
	CPUMsPerMessage float64       `json:"cpu_ms_per_message,omitempty"`
	RSSAfterBytes   int64         `json:"rss_after_bytes"` // the sum
	Servers         []ServerStats `json:"servers"`
}

// PostgresStats is the CPU the machine's Postgres processes used.
type PostgresStats struct {
	Processes       int     `json:"processes"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUCores        float64 `json:"cpu_cores"`
	CPUMsPerMessage float64 `json:"cpu_ms_per_message,omitempty"`
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	m := r.Machine
	p("workload", "%s (%s)", r.Workload, r.StartedAt.Format(time.RFC3339))
	p("machine", "%d CPUs %s, %s RAM, %s/%s %s, %s", m.CPUs, m.CPUModel, bytesText(m.MemoryBytes), m.OS, m.Arch, m.Kernel, m.GoVersion)
	f := r.Flags
	flags := fmt.Sprintf("--users %d --chat-size %d --duration %s --concurrency %d", f.Users, f.ChatSize, f.Duration, f.Concurrency)
	switch r.Workload {
	case Search:
		flags += fmt.Sprintf(" --rate %g --messages %d --qps %g", f.Rate, f.Messages, f.QueryRate)
		if f.FlowRate > 0 {
			flags += fmt.Sprintf(" --flow-rate %g", f.FlowRate)
		}
	case Seed, Fanout:
		flags += fmt.Sprintf(" --rate %g --transport %s", f.Rate, f.Transport)
	}
	if f.Retry {
		flags += " --retry"
	}
	if f.Verify {
		flags += " --verify"
	}
	p("flags", "%s", flags)
	p("setup", "%d users, %d chats in workspace %s (%.1fs)", r.Setup.Users, r.Setup.Chats, r.Setup.Workspace, r.Setup.Seconds)
	p("elapsed", "%.1fs (load average %.2f -> %.2f)", r.ElapsedSeconds, r.LoadAverage[0], r.LoadAverage[1])
	if r.Messages.Scheduled > 0 {
		p("messages", "%d sent of %d scheduled (%.1f/s), %d failed, %d skipped", r.Messages.Sent, r.Messages.Scheduled,
			r.Messages.RatePerSec, r.Messages.Failed, r.Messages.Skipped)
		if r.SeedMode != "bulk" { // bulk seeding sends nothing
			p("send latency", "%s", summaryText(r.SendLatency))
			p("schedule lag", "%s", summaryText(r.ScheduleLag))
		}
	}
	if d := r.Deliveries; d.Expected > 0 {
		p("deliveries", "%d of %d received (%.1f/s), lost %d (%.4f%%), duplicates %d, out of order %d, unacked %d",
			d.Received, d.Expected, d.RatePerSec, d.Lost, 100*d.LossRatio, d.Duplicates, d.OutOfOrder, d.Unacked)
		p("delivery latency", "%s", summaryText(r.DeliveryLatency))
		if r.Flags.Instances > 1 {
			p("  same instance", "%s", summaryText(r.DeliveryLatencySameInstance))
			p("  cross instance", "%s", summaryText(r.DeliveryLatencyCrossInstance))
		}
	}
	if r.IndexLag.Count > 0 || r.IndexLagMissed > 0 {
		p("index lag", "%s, %d never found", summaryText(r.IndexLag), r.IndexLagMissed)
	}
	if r.SeedMode != "" {
		p("seeding", "%s: %d messages in %.1fs (%.0f/s)", r.SeedMode, r.Messages.Sent, r.SeedSeconds, r.SeedRatePerSec)
	}
	if r.SearchQuery.Count > 0 {
		p("index catch-up", "%.2fs after the last ack", r.IndexCatchUpSeconds)
		p("search query", "%s, %.1f hits on average", summaryText(r.SearchQuery), r.SearchHitsMean)
		p("search took_ms", "%s", summaryText(r.SearchTook))
	}
	if f := r.SearchFlow; f != nil {
		p("flow during queries", "%d sent (%.1f/s), %d failed; index lag %s, %d never found", f.Sent, f.RatePerSec, f.Failed,
			summaryText(f.IndexLag), f.IndexLagMissed)
	}
	if c := r.Connections; c.Opened+c.Failed > 0 {
		p("connections", "%d opened, %d failed, %d dropped", c.Opened, c.Failed, c.Dropped)
		if c.ConnectSeconds > 0 {
			p("connect", "%.1fs for all dials; settled %.1fs later (server %.3f cores meanwhile); server idle CPU %.3f cores over the hold",
				c.ConnectSeconds, c.SettleSeconds, c.SettleCPUCores, c.IdleCPUCores)
		}
	}
	if rt := r.Retry; rt != nil {
		p("retry", "%d resends, %d other calls made again, %d reconnects (%d users moved to another instance), %d sign-ins, %d catch-ups (%d messages caught up)",
			rt.Resends, rt.Retries, rt.Reconnects, rt.Failovers, rt.SignIns, rt.CatchUps, rt.CaughtUp)
	}
	if v := r.Verify; v != nil {
		verdict := "clean"
		if !v.Clean() {
			verdict = "BROKEN"
		}
		p("verify", "%s: %s (%.1fs)", verdict, v, v.Seconds)
	}
	p("errors", "%s", countsText(r.Errors))
	p("frames", "%s", countsText(r.Frames))
	if s := r.Server; s != nil {
		p("server", "pid %d: RSS %s -> %s (peak %s), CPU %.1fs = %.2f cores", s.PID,
			bytesText(s.RSSBeforeBytes), bytesText(s.RSSAfterBytes), bytesText(s.RSSPeakBytes), s.CPUSeconds, s.CPUCores)
		if s.CPUMsPerMessage > 0 {
			p("server CPU", "%.2f ms per message", s.CPUMsPerMessage)
		}
		if s.PerConnectionBytes != 0 {
			p("per connection", "%s of server RSS", bytesText(s.PerConnectionBytes))
		}
	}
	if c := r.Cluster; c != nil {
		p("servers", "%d instances: RSS %s after, CPU %.1fs = %.2f cores, %.2f ms per message", c.Instances,
			bytesText(c.RSSAfterBytes), c.CPUSeconds, c.CPUCores, c.CPUMsPerMessage)
		for _, s := range c.Servers {
			p("  server", "pid %d: RSS %s -> %s, CPU %.1fs = %.2f cores", s.PID, bytesText(s.RSSBeforeBytes), bytesText(s.RSSAfterBytes), s.CPUSeconds, s.CPUCores)
		}
	}
	if pg := r.Postgres; pg != nil {
		p("postgres", "%d processes: CPU %.1fs = %.2f cores, %.2f ms per message", pg.Processes, pg.CPUSeconds, pg.CPUCores, pg.CPUMsPerMessage)
	}
	g := r.Generator
	p("generator", "RSS %s, CPU %.1fs = %.2f cores", bytesText(g.RSSAfterBytes), g.CPUSeconds, g.CPUCores)
	for _, n := range r.Notes {
		p("note", "%s", n)
	}
	return tw.Flush()
}

func summaryText(s Summary) string {
	if s.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p95 %s  p99 %s  max %s  (n=%d)", msText(s.P50), msText(s.P95), msText(s.P99), msText(s.Max), s.Count)
}

func msText(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.2fs", v/1000)
	case v >= 10:
		return fmt.Sprintf("%.0fms", v)
	default:
		return fmt.Sprintf("%.2fms", v)
	}
}

func countsText(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func bytesText(n int64) string {
	neg := n < 0
	if neg {
		n = -n
	}
	var s string
	switch {
	case n >= 1<<30:
		s = fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		s = fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		s = fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		s = fmt.Sprintf("%d B", n)
	}
	if neg {
		return "-" + s
	}
	return s
}
