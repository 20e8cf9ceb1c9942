package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fechatter/fechatter/client"
)

// recorded is one request the fake server saw.
type recorded struct {
	method, path, query, auth string
	body                      map[string]any
}

// fakeServer answers every request with status, headers and body, and
// records what it was asked.
func fakeServer(t *testing.T, status int, header map[string]string, body string) (*client.Client, *recorded) {
	t.Helper()
	rec := &recorded{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.method, rec.path, rec.query, rec.auth = r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization")
		rec.body = nil
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			if err := json.Unmarshal(b, &rec.body); err != nil {
				t.Errorf("request body is not JSON: %s", b)
			}
		}
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	return c.WithSession(client.Session{AccessToken: "tok"}), rec
}

func TestErrorsAreTyped(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		wantCode  string
		wantMsg   string
		wantRetry time.Duration
	}{
		{"API error", 404, nil, `{"error":{"code":"not_found","message":"chat 42 not found"}}`, client.CodeNotFound, "chat 42 not found", 0},
		{"rate limited", 429, map[string]string{"Retry-After": "3"}, `{"error":{"code":"rate_limited","message":"slow down"}}`, client.CodeRateLimited, "slow down", 3 * time.Second},
		{"proxy page", 502, nil, `<html>bad gateway</html>`, client.CodeUnavailable, "<html>bad gateway</html>", 0},
		{"empty body", 500, nil, ``, client.CodeInternal, "Internal Server Error", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := fakeServer(t, tt.status, tt.header, tt.body)
			_, err := c.Me(context.Background())
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *client.Error", err)
			}
			if e.Status != tt.status || e.Code != tt.wantCode || e.Message != tt.wantMsg || e.RetryAfter != tt.wantRetry {
				t.Fatalf("got %+v", e)
			}
			if !client.IsCode(err, tt.wantCode) || client.Code(errors.New("plain")) != "" {
				t.Fatal("IsCode or Code disagree")
			}
		})
	}
}

func TestRequestsFollowTheContract(t *testing.T) {
	ctx := context.Background()
	c, rec := fakeServer(t, 200, nil, `{"user_id":7,"role":"member","last_delivered_seq":5,"last_read_seq":5}`)
	m, err := c.MarkRead(ctx, 42, 5)
	if err != nil || m.LastReadSeq != 5 {
		t.Fatalf("MarkRead: %+v %v", m, err)
	}
	if rec.method != "POST" || rec.path != "/api/v1/chats/42/read" || rec.body["seq"] != 5.0 || rec.auth != "Bearer tok" {
		t.Fatalf("MarkRead sent %+v", rec)
	}
	if _, err := c.MarkDelivered(ctx, 42, 6); err != nil || rec.path != "/api/v1/chats/42/delivered" || rec.body["seq"] != 6.0 {
		t.Fatalf("MarkDelivered sent %+v (%v)", rec, err)
	}

	c, rec = fakeServer(t, 200, nil, `{"messages":[],"has_more":false}`)
	for _, tt := range []struct {
		page  client.Page
		query string
	}{
		{client.Page{}, ""},
		{client.Page{Seq: 9, Limit: 5}, "before_seq=9&limit=5"},
		{client.Page{Forward: true}, "after_seq=0"},
		{client.Page{Forward: true, Seq: 3, Limit: 200}, "after_seq=3&limit=200"},
	} {
		if _, err := c.ListMessages(ctx, 1, tt.page); err != nil || rec.query != tt.query {
			t.Fatalf("ListMessages(%+v) sent ?%s, want ?%s (%v)", tt.page, rec.query, tt.query, err)
		}
	}

	c, rec = fakeServer(t, 200, nil, `{"hits":[],"estimated_total":0,"took_ms":1}`)
	if _, err := c.Search(ctx, client.SearchQuery{Q: "a b&c", ChatID: 4, Limit: 3}); err != nil || rec.path != "/api/v1/search/messages" ||
		rec.query != "chat_id=4&limit=3&q=a+b%26c" {
		t.Fatalf("Search sent %+v (%v)", rec, err)
	}

	c, _ = fakeServer(t, 200, map[string]string{"Idempotent-Replay": "true"}, `{"id":1,"chat_id":2,"seq":3}`)
	if m, replay, err := c.Send(ctx, 2, client.NewMessage{Content: "x", IdempotencyKey: "k"}); err != nil || !replay || m.Seq != 3 {
		t.Fatalf("Send replay: %+v %v %v", m, replay, err)
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://x", "http://"} {
		if _, err := client.New(u); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	c, err := client.New("https://chat.example.com/api/v1/")
	if err != nil || c.BaseURL() != "https://chat.example.com" {
		t.Fatalf("New kept %q (%v)", c.BaseURL(), err)
	}
}
