package http_test

import (
	"encoding/json"
	"reflect"
	"testing"

	httpadapter "github.com/fechatter/fechatter/adapters/http"
	"github.com/fechatter/fechatter/adapters/http/contract"
)

// The document a server serves is the one the harnesses check against,
// and it is valid OpenAPI with every route of the route table.
func TestServedDocumentIsTheContract(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.must(200, "GET", "/openapi.json", "", nil, nil)
	if _, err := contract.New(r.raw); err != nil {
		t.Fatal(err)
	}
	var served, generated any
	r.json(t, &served)
	raw, _ := json.Marshal(httpadapter.Document())
	_ = json.Unmarshal(raw, &generated)
	if !reflect.DeepEqual(served, generated) {
		t.Fatal("GET /openapi.json differs from httpadapter.Document()")
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	r.json(t, &doc)
	for p, ops := range doc.Paths {
		for m, op := range ops {
			if _, ok := op.Responses["500"]; !ok {
				t.Errorf("%s %s: no 500", m, p)
			}
		}
	}
	for _, want := range []string{"/api/v1/chats/{id}/messages", "/api/v1/ws", "/health"} {
		if doc.Paths[want] == nil {
			t.Errorf("%s missing", want)
		}
	}
	if _, ok := doc.Paths["/api/v1/chats/{id}/messages"]["post"].Responses["429"]; !ok {
		t.Error("send without 429")
	}
}
