package bootstrap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/ports/porttest"
)

// vmRSS is this process's resident set in bytes (Linux).
func vmRSS(t *testing.T) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// TestSignUpFloodKeepsMemoryBounded: 200 concurrent sign-ups with the
// production password cost (argon2id, 19 MiB each), half of them with a
// wrong invite code, against a real server. Every answer is a clear status
// (201, 409 or 429 with Retry-After) and the process's RSS grows by less
// than 200 MB. Not parallel, so no other test shares the process meanwhile;
// the RSS bound is checked in builds without the race detector (make test
// runs it that way too).
func TestSignUpFloodKeepsMemoryBounded(t *testing.T) {
	s := startServer(t, "FECHATTER_AUTH_HASH_COST=owasp", "FECHATTER_AUTH_SIGNUP_LIMIT_MAX=100000")
	ws := porttest.Unique("flood-")
	s.call(t, 201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": porttest.Unique("owner") + "@x.test",
		"password": "correct-horse", "fullname": "Owner", "workspace": ws}, nil)

	base := vmRSS(t)
	var peak int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := vmRSS(t); r > peak {
				peak = r
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	const n = 200
	statuses := make([]int, n)
	retryAfter := make([]string, n)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 60 * time.Second}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := map[string]any{"email": fmt.Sprintf("%s-%d@x.test", ws, i), "password": "correct-horse", "fullname": "F"}
			if i%2 == 0 {
				body["workspace"], body["invite_code"] = ws, "wrong-code"
			} else {
				body["workspace"] = fmt.Sprintf("%s-%d", ws, i)
			}
			b, _ := json.Marshal(body)
			resp, err := client.Post(s.base+"/api/v1/auth/signup", "application/json", bytes.NewReader(b))
			if err != nil {
				t.Errorf("sign-up %d: %v", i, err)
				return
			}
			resp.Body.Close()
			statuses[i], retryAfter[i] = resp.StatusCode, resp.Header.Get("Retry-After")
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	counts := map[int]int{}
	for i, st := range statuses {
		counts[st]++
		switch {
		case st == 201 && i%2 == 1, st == 409 && i%2 == 0:
		case st == 429 && retryAfter[i] != "":
		default:
			t.Errorf("sign-up %d answered %d (Retry-After %q)", i, st, retryAfter[i])
		}
	}
	growth := peak - base
	t.Logf("200 concurrent sign-ups: statuses %v; RSS %d MB -> peak %d MB (growth %d MB)", counts, base>>20, peak>>20, growth>>20)
	if counts[201] == 0 {
		t.Error("no sign-up succeeded")
	}
	if raceEnabled {
		t.Log("race detector on: RSS not checked (make test runs this test once more without -race)")
	} else if growth > 200<<20 {
		t.Errorf("RSS grew by %d MB during the flood, want under 200 MB", growth>>20)
	}
}
