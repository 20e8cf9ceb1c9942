package bench

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/client"
)

// flakyServer answers sends into chat 7 with the answers it is given, in
// turn (then 201), accepts alice's sign-in with a new token, and records
// every send's idempotency key and token.
type flakyServer struct {
	mu      sync.Mutex
	answers []int // statuses to answer the next sends with
	keys    []string
	tokens  []string
}

func (f *flakyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/api/v1/auth/signin":
		var b struct{ Email, Password string }
		_ = json.NewDecoder(r.Body).Decode(&b)
		if b.Email != "alice@example.test" || b.Password != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(api.Error{Error: api.ErrorDetail{Code: client.CodeUnauthenticated, Message: "wrong password"}})
			return
		}
		_ = json.NewEncoder(w).Encode(api.AuthResult{AccessToken: "fresh", RefreshToken: "r"})
	case "/api/v1/chats/7/messages":
		var m client.NewMessage
		_ = json.NewDecoder(r.Body).Decode(&m)
		f.keys = append(f.keys, m.IdempotencyKey)
		f.tokens = append(f.tokens, r.Header.Get("Authorization"))
		status := http.StatusCreated
		if len(f.answers) > 0 {
			status, f.answers = f.answers[0], f.answers[1:]
		}
		if status == http.StatusUnauthorized && r.Header.Get("Authorization") == "Bearer fresh" {
			status = http.StatusCreated // the new token is good
		}
		w.WriteHeader(status)
		if status != http.StatusCreated {
			code := map[int]string{http.StatusServiceUnavailable: client.CodeUnavailable, http.StatusUnauthorized: client.CodeUnauthenticated,
				http.StatusForbidden: client.CodeForbidden}[status]
			_ = json.NewEncoder(w).Encode(api.Error{Error: api.ErrorDetail{Code: code, Message: "planted"}})
			return
		}
		_ = json.NewEncoder(w).Encode(api.Message{ID: 1, ChatID: 7, Seq: 1, Content: m.Content})
	default:
		http.NotFound(w, r)
	}
}

// deadURL is the address of a listener closed again: connections are
// refused, as by an instance that is down.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// TestRetrierResendsWithTheSameKeyMovesOnAndSignsInAgain: a user whose
// instance is down is moved to the next; there a send answered 503 and
// then 401 (the token refused) is made again, after a sign-in, until it is
// acknowledged, every attempt with the one idempotency key.
func TestRetrierResendsWithTheSameKeyMovesOnAndSignsInAgain(t *testing.T) {
	srv := &flakyServer{answers: []int{http.StatusServiceUnavailable, http.StatusUnauthorized}}
	live := httptest.NewServer(srv)
	defer live.Close()
	urls := []string{deadURL(t), live.URL}
	var failed []string
	r := NewRetrier(urls, "pw", func(op string, err error) { failed = append(failed, op+" "+ErrorCode(err)) })
	cl, err := client.New(urls[0])
	if err != nil {
		t.Fatal(err)
	}
	u := NewUser(r, 0, "alice@example.test", cl.WithSession(client.Session{AccessToken: "stale"}))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msg, attempts, err := u.Send(ctx, 7, client.NewMessage{Content: "hello", IdempotencyKey: "k-1"}, true)
	if err != nil || msg.Seq != 1 {
		t.Fatalf("send: %v (message %+v)", err, msg)
	}
	// Refused by the dead instance, then 503, 401, 201 on the live one.
	if attempts != 4 || u.Instance() != 1 || u.Client().BaseURL() != live.URL {
		t.Fatalf("%d attempts, on instance %d (%s); want 4, on the live instance", attempts, u.Instance(), u.Client().BaseURL())
	}
	srv.mu.Lock()
	keys, tokens := srv.keys, srv.tokens
	srv.mu.Unlock()
	if len(keys) != 3 || keys[0] != "k-1" || keys[1] != "k-1" || keys[2] != "k-1" {
		t.Fatalf("keys sent to the live instance %q, want k-1 three times", keys)
	}
	if tokens[0] != "Bearer stale" || tokens[2] != "Bearer fresh" {
		t.Fatalf("tokens %q: the session did not move with the user, or no sign-in replaced the refused token", tokens)
	}
	st := r.Stats()
	if st.Resends != 3 || st.Failovers != 1 || st.SignIns != 1 {
		t.Fatalf("stats %+v, want 3 resends, 1 failover, 1 sign-in", st)
	}
	if len(failed) != 3 || failed[0] != "send transport" || failed[1] != "send unavailable" || failed[2] != "send unauthenticated" {
		t.Fatalf("failed attempts reported %q", failed)
	}
}

// TestRetrierLeavesAloneWhatARetryCannotChange: a refusal (403) is not
// made again, and a message without an idempotency key is sent once even
// when the server is unavailable (a second attempt could store it twice).
func TestRetrierLeavesAloneWhatARetryCannotChange(t *testing.T) {
	srv := &flakyServer{answers: []int{http.StatusForbidden, http.StatusServiceUnavailable}}
	live := httptest.NewServer(srv)
	defer live.Close()
	r := NewRetrier([]string{live.URL}, "pw", nil)
	cl, _ := client.New(live.URL)
	u := NewUser(r, 0, "alice@example.test", cl.WithSession(client.Session{AccessToken: "fresh"}))
	ctx := context.Background()
	if _, n, err := u.Send(ctx, 7, client.NewMessage{Content: "a", IdempotencyKey: "k-2"}, false); !client.IsCode(err, client.CodeForbidden) || n != 1 {
		t.Fatalf("forbidden send: %d attempts, %v", n, err)
	}
	if _, n, err := u.Send(ctx, 7, client.NewMessage{Content: "b"}, false); !client.IsCode(err, client.CodeUnavailable) || n != 1 {
		t.Fatalf("send without a key: %d attempts, %v", n, err)
	}
	if st := r.Stats(); st.Resends != 0 {
		t.Fatalf("%d resends", st.Resends)
	}
}
