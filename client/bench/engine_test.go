package bench

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPaceFiresOnScheduleNeverEarlyAndDoesNotSlip(t *testing.T) {
	origin := time.Now().Add(10 * time.Millisecond)
	at := func(i int) time.Time { return origin.Add(time.Duration(i) * 5 * time.Millisecond) }
	var fired []time.Time
	n := pace(context.Background(), 20, at, func(i int) {
		fired = append(fired, time.Now())
		if i == 3 {
			time.Sleep(30 * time.Millisecond) // a slow fire: the next ones are late, not rescheduled
		}
	})
	if n != 20 || len(fired) != 20 {
		t.Fatalf("fired %d of 20", n)
	}
	for i, f := range fired {
		if f.Before(at(i)) {
			t.Fatalf("fire %d at %v, %v early", i, f, at(i).Sub(f))
		}
	}
	// The fires after the slow one were late and went at once: the
	// schedule caught up instead of shifting by 30ms.
	if late := fired[19].Sub(at(19)); late > 25*time.Millisecond {
		t.Fatalf("the schedule slipped: the last fire is %v late", late)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n := pace(ctx, 5, func(int) time.Time { return time.Now().Add(time.Hour) }, func(int) {}); n != 0 {
		t.Fatalf("a canceled pace fired %d", n)
	}
}

func TestDefaultsSpreadTheRateOverEnoughUsers(t *testing.T) {
	c := Config{URL: "http://127.0.0.1:1", Workload: Fanout, Rate: 2000}.WithDefaults()
	if c.Users != 8000 || c.ChatSize != 10 || c.Rate/float64(c.Users) > DefaultSendLimit {
		t.Fatalf("fanout at 2000/s: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s := Config{URL: "http://127.0.0.1:1", Workload: Seed, Duration: 20 * time.Second}.WithDefaults()
	if s.Users != 200 || s.Rate != 500 || s.sends() != 10_000 {
		t.Fatalf("seed day: users %d rate %g sends %d", s.Users, s.Rate, s.sends())
	}
	for _, bad := range []Config{
		{URL: "127.0.0.1:8080", Workload: Fanout},
		{URL: "http://x:1", Workload: "storm"},
		{URL: "http://x:1", Workload: Fanout, ChatSize: 1},
		{URL: "http://x:1", Workload: Fanout, Transport: "carrier-pigeon"},
	} {
		if err := bad.WithDefaults().Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestReportText(t *testing.T) {
	r := &Report{Workload: Fanout, Machine: ThisMachine(), Messages: Messages{Scheduled: 10, Sent: 10},
		Deliveries: Deliveries{Expected: 100, Received: 100}, Errors: map[string]int64{"send rate_limited": 2},
		SendLatency: Summary{Count: 10, P50: 1.5, P95: 12, P99: 1500, Max: 2000},
		Server:      &ServerStats{PID: 1, ProcStats: ProcStats{RSSAfterBytes: 3 << 20}}}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"10 sent of 10", "100 of 100 received", "p50 1.50ms  p95 12ms  p99 1.50s", "send rate_limited 2", "3.0 MiB"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestSeqSetDeduplicates(t *testing.T) {
	var s seqSet
	for _, seq := range []int64{1, 64, 65, 1000, 3} {
		if !s.add(seq) {
			t.Fatalf("seq %d reported as seen", seq)
		}
	}
	for _, seq := range []int64{1, 64, 65, 1000, 3} {
		if s.add(seq) {
			t.Fatalf("seq %d not deduplicated", seq)
		}
	}
}

func TestInterleaveSpreadsSendsOverChatsAndUsers(t *testing.T) {
	const chats, size = 4, 3
	seen := map[int]int{}
	for i := range chats * size * 5 {
		u := interleave(i, chats, size)
		if u/size != i%chats {
			t.Fatalf("message %d sent by user %d, not a member of chat %d", i, u, i%chats)
		}
		seen[u]++
	}
	if len(seen) != chats*size {
		t.Fatalf("%d users sent, want all %d", len(seen), chats*size)
	}
	for u, n := range seen {
		if n != 5 {
			t.Fatalf("user %d sent %d, want 5", u, n)
		}
	}
}

func TestChannelIsOneChatOfEveryMember(t *testing.T) {
	c := Config{URL: "http://127.0.0.1:1", Workload: Channel}.WithDefaults()
	if c.Users != 1000 || c.ChatSize != 1000 || c.Rate != 20 {
		t.Fatalf("channel defaults: %d users, chats of %d, %g msg/s", c.Users, c.ChatSize, c.Rate)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c = Config{URL: "http://127.0.0.1:1", Workload: Channel, Users: 300}.WithDefaults()
	if c.Users != 300 || c.ChatSize != 300 {
		t.Fatalf("--members 300: %d users, chats of %d", c.Users, c.ChatSize)
	}
	c = Config{URL: "http://127.0.0.1:1", Workload: Channel, Users: 1001}.WithDefaults()
	if c.Validate() == nil {
		t.Fatal("a channel over the server's 1,000-member limit validated")
	}
}

func TestInviteUsesStayWithinTheAPICap(t *testing.T) {
	for _, tc := range []struct {
		users int
		want  []int
	}{
		{0, nil}, {1, []int{1}}, {9_999, []int{9_999}}, {10_000, []int{10_000}},
		{10_001, []int{10_000, 1}}, {18_999, []int{10_000, 8_999}}, {25_000, []int{10_000, 10_000, 5_000}},
	} {
		got := inviteUses(tc.users)
		if !slices.Equal(got, tc.want) {
			t.Errorf("inviteUses(%d) = %v, want %v", tc.users, got, tc.want)
		}
		// Every user has an invite: user j uses invite j/perInvite.
		if tc.users > 0 && (tc.users-1)/perInvite >= len(got) {
			t.Errorf("inviteUses(%d): user %d has no invite", tc.users, tc.users-1)
		}
	}
}

func TestReportTextOfSeveralInstances(t *testing.T) {
	r := &Report{Workload: Fanout, Machine: ThisMachine(), Flags: Flags{Instances: 2},
		Messages: Messages{Scheduled: 10, Sent: 10}, Deliveries: Deliveries{Expected: 100, Received: 100},
		DeliveryLatency:              Summary{Count: 100, P99: 30},
		DeliveryLatencySameInstance:  Summary{Count: 50, P99: 20},
		DeliveryLatencyCrossInstance: Summary{Count: 50, P99: 40},
		Cluster: &ClusterStats{Instances: 2, CPUSeconds: 3, CPUMsPerMessage: 300,
			Servers: []ServerStats{{PID: 7, ProcStats: ProcStats{CPUSeconds: 1}}, {PID: 8, ProcStats: ProcStats{CPUSeconds: 2}}}}}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"same instance", "p99 20ms", "cross instance", "p99 40ms", "2 instances", "300.00 ms per message", "pid 8"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if c := (Config{URL: "http://a:1, http://b:2,"}); len(c.URLs()) != 2 || c.URLs()[1] != "http://b:2" {
		t.Errorf("URLs of %q = %q", c.URL, c.URLs())
	}
}
