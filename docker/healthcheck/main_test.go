package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRun(t *testing.T) {
	status := http.StatusOK
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	defer s.Close()
	if got := run([]string{s.URL}); got != 0 {
		t.Errorf("200: exit %d", got)
	}
	status = http.StatusServiceUnavailable
	if got := run([]string{s.URL}); got != 1 {
		t.Errorf("503: exit %d", got)
	}
	s.Close()
	if got := run([]string{s.URL}); got != 1 {
		t.Errorf("closed: exit %d", got)
	}
}
