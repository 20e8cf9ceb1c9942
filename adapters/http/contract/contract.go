// Package contract checks exchanges against the API document in tests: the
// HTTP and end-to-end test harnesses pass every request and answer they
// exchange, and every WebSocket frame they see, through a Checker, so an
// answer that drifts from openapi.json fails the suite.
//
// The rules: a request the document accepts must get a documented status
// whose body (and required headers) match the document; a request the
// document refuses (wrong types, missing fields, no token) must be refused
// with a documented 4xx; a path the document does not know must be
// answered 404 or 405 in the error shape. Frames must match the schema of
// their type (components ws.server.<type> and ws.client.<type>).
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	httpadapter "github.com/fechatter/fechatter/adapters/http"
)

// Checker validates exchanges against one document.
type Checker struct {
	doc    *openapi3.T
	router routers.Router
	frames map[string]*openapi3.Schema // "server:<type>", "client:<type>"
}

var (
	once    sync.Once
	shared  *Checker
	loadErr error
)

// Default is the Checker of the document the route table generates (the
// one GET /openapi.json serves), loaded once per test binary.
func Default(t testing.TB) *Checker {
	t.Helper()
	once.Do(func() {
		raw, err := json.Marshal(httpadapter.Document())
		if err != nil {
			loadErr = err
			return
		}
		shared, loadErr = New(raw)
	})
	if loadErr != nil {
		t.Fatalf("contract: %v", loadErr)
	}
	return shared
}

// New loads and validates a document (JSON).
func New(raw []byte) (*Checker, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("document is not valid OpenAPI: %w", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	c := &Checker{doc: doc, router: router, frames: map[string]*openapi3.Schema{}}
	ws, _ := doc.Extensions["x-websocket"].(map[string]any)
	for dir, key := range map[string]string{"server": "server_frames", "client": "client_frames"} {
		m, _ := ws[key].(map[string]any)
		for typ, ref := range m {
			name := strings.TrimPrefix(fmt.Sprint(ref), "#/components/schemas/")
			sr := doc.Components.Schemas[name]
			if sr == nil || sr.Value == nil {
				return nil, fmt.Errorf("x-websocket names %s, which is not a component", ref)
			}
			c.frames[dir+":"+typ] = sr.Value
		}
	}
	if len(c.frames) == 0 {
		return nil, fmt.Errorf("document has no x-websocket frames")
	}
	return c, nil
}

// Exchange returns the problems of one exchange, nil if it conforms.
// reqBody and respBody are the bodies as sent (the request's and answer's
// Body fields are not read).
func (c *Checker) Exchange(req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) error {
	ctx := context.Background()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if status >= 400 { // 404 or 405 from the router; a test's own route may fail otherwise
			return c.errorShape(status, respBody)
		}
		return fmt.Errorf("%s %s is not in the document but was answered %d", req.Method, req.URL.Path, status)
	}
	r2 := req.Clone(ctx)
	r2.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{Request: r2, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent, MultiError: true}}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	if reqErr != nil && (status < 400 || status >= 500) {
		return fmt.Errorf("%s %s: the document refuses the request (%v) but it was answered %d", req.Method, req.URL.Path, clip(reqErr), status)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(respBody)), Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s %s answered %d, which the document does not allow: %v\nbody: %s", req.Method, req.URL.Path, status, clip(err), clipBytes(respBody))
	}
	return nil
}

// errorShape checks an answer of a path the document does not know.
func (c *Checker) errorShape(status int, body []byte) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%d answer is not JSON: %s", status, clipBytes(body))
	}
	if err := c.doc.Components.Schemas["Error"].Value.VisitJSON(v); err != nil {
		return fmt.Errorf("%d answer is not the error shape: %v", status, clip(err))
	}
	return nil
}

// bearerPresent: the document's security is an Authorization: Bearer
// header; whether the token is good is the server's business (401).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
		return nil
	}
	return fmt.Errorf("no Authorization: Bearer header")
}

// ServerFrame returns the problems of one frame the server sent.
func (c *Checker) ServerFrame(raw []byte) error { return c.frame("server", raw) }

// ClientFrame returns the problems of one frame a client sent; a frame
// the document refuses must be answered with an error frame (the caller's
// business).
func (c *Checker) ClientFrame(raw []byte) error { return c.frame("client", raw) }

func (c *Checker) frame(dir string, raw []byte) error {
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("%s frame is not a JSON object: %s", dir, clipBytes(raw))
	}
	typ, _ := v["type"].(string)
	s := c.frames[dir+":"+typ]
	if s == nil {
		return fmt.Errorf("%s frame type %q is not in the document: %s", dir, typ, clipBytes(raw))
	}
	if err := s.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("%s frame %s does not match its schema: %v\nframe: %s", dir, typ, clip(err), clipBytes(raw))
	}
	return nil
}

// Transport wraps next (nil: http.DefaultTransport) so that every exchange
// through it is checked; a drift fails t.
func (c *Checker) Transport(t testing.TB, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{c: c, t: t, next: next}
}

type transport struct {
	c    *Checker
	t    testing.TB
	next http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := tr.next.RoundTrip(req)
	if err != nil || resp.StatusCode == http.StatusSwitchingProtocols {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err := tr.c.Exchange(req, reqBody, resp.StatusCode, resp.Header, body); err != nil {
		tr.t.Errorf("contract: %v", err)
	}
	return resp, nil
}

func clip(err error) string { return clipBytes([]byte(err.Error())) }

func clipBytes(b []byte) string {
	if len(b) > 1500 {
		return string(b[:1500]) + "..."
	}
	return string(b)
}

// WireHook returns a hook for client.WithWireHook: every frame a client
// sends or receives is checked, and a drift fails t.
func (c *Checker) WireHook(t testing.TB) func(sent bool, frame []byte) {
	return func(sent bool, frame []byte) {
		check := c.ServerFrame
		if sent {
			check = c.ClientFrame
		}
		if err := check(frame); err != nil {
			t.Errorf("contract: %v", err)
		}
	}
}

// Client returns an http.Client whose exchanges are all checked.
func (c *Checker) Client(t testing.TB) *http.Client {
	return &http.Client{Transport: c.Transport(t, nil)}
}
