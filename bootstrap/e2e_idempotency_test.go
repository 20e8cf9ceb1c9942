package bootstrap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
)

// TestConcurrentRepeatsMakeOneMessageOnPostgres races many sends with the
// same idempotency key at a real server: one row, every caller gets it, one
// answer says created and the rest say replay.
func TestConcurrentRepeatsMakeOneMessageOnPostgres(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	alice, bob := s.pair(t)
	var chat struct{ ID int64 }
	s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "group", "name": "race", "member_ids": []int64{bob.User.ID}}, &chat)
	path := fmt.Sprintf("%s/api/v1/chats/%d/messages", s.base, chat.ID)
	body, _ := json.Marshal(map[string]any{"content": "exactly once", "idempotency_key": "race-1"})

	const n = 32
	type answer struct {
		status int
		replay string
		id     int64
		seq    int64
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest("POST", path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+alice.AccessToken)
			resp, err := s.hc.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var m struct{ ID, Seq int64 }
			_ = json.Unmarshal(raw, &m)
			answers[i] = answer{resp.StatusCode, resp.Header.Get("Idempotent-Replay"), m.ID, m.Seq}
		}()
	}
	close(start)
	wg.Wait()
	created := 0
	for _, a := range answers {
		switch {
		case a.status == 201 && a.replay == "":
			created++
		case a.status == 200 && a.replay == "true":
		default:
			t.Fatalf("answer %+v", a)
		}
		if a.id != answers[0].id || a.seq != 1 {
			t.Fatalf("callers got different messages: %+v", answers)
		}
	}
	if created != 1 {
		t.Errorf("%d answers said created, want 1", created)
	}
	var page struct {
		Messages []struct{ Seq int64 } `json:"messages"`
	}
	s.call(t, 200, "GET", fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID), bob.AccessToken, nil, &page)
	if len(page.Messages) != 1 {
		t.Errorf("%d messages stored, want 1", len(page.Messages))
	}
	// The seq given back by the losers left no gap: the next send is seq 2.
	var next struct{ Seq int64 }
	s.call(t, 201, "POST", fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID), alice.AccessToken, map[string]any{"content": "after"}, &next)
	if next.Seq != 2 {
		t.Errorf("next seq %d, want 2", next.Seq)
	}
}
