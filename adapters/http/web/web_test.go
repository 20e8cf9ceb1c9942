package web_test

import (
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/fechatter/fechatter/adapters/http/web"
)

func newApp() *fiber.App {
	app := fiber.New()
	web.Mount(app)
	return app
}

func get(t *testing.T, app *fiber.App, path string, header map[string]string) (int, map[string]string, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := app.Test(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	h := map[string]string{}
	for k := range resp.Header {
		h[k] = resp.Header.Get(k)
	}
	return resp.StatusCode, h, string(body)
}

func TestServesTheClientWithTypesAndCaching(t *testing.T) {
	app := newApp()
	tests := []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/app.js">`},
		{"/app.js", "text/javascript; charset=utf-8", "import"},
		{"/api.js", "text/javascript; charset=utf-8", "X-Fechatter-Session"},
		{"/socket.js", "text/javascript; charset=utf-8", "WebSocket"},
		{"/dom.js", "text/javascript; charset=utf-8", "export function h("},
		{"/app.css", "text/css; charset=utf-8", ":root"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, h, body := get(t, app, tt.path, nil)
			if status != 200 || h["Content-Type"] != tt.contentType || !strings.Contains(body, tt.contains) {
				t.Fatalf("GET %s = %d %q, body has %q: %v", tt.path, status, h["Content-Type"], tt.contains, strings.Contains(body, tt.contains))
			}
			if h["Cache-Control"] != "no-cache" || h["Etag"] == "" || h["X-Content-Type-Options"] != "nosniff" {
				t.Fatalf("caching headers: %v", h)
			}
			status, _, body = get(t, app, tt.path, map[string]string{"If-None-Match": h["Etag"]})
			if status != 304 || body != "" {
				t.Fatalf("revalidation with the ETag = %d %q, want 304 and no body", status, body)
			}
			status, _, _ = get(t, app, tt.path, map[string]string{"If-None-Match": `"other"`})
			if status != 200 {
				t.Fatalf("another ETag = %d, want 200", status)
			}
		})
	}
}

func TestThePageAllowsNothingFromElsewhere(t *testing.T) {
	_, h, body := get(t, newApp(), "/", nil)
	csp := h["Content-Security-Policy"]
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("index.html refers to another origin")
	}
}

// Every file the page and the modules refer to is served: a renamed module
// would otherwise only show as a blank page.
func TestEveryReferencedFileIsServed(t *testing.T) {
	app := newApp()
	_, _, page := get(t, app, "/", nil)
	refs := regexp.MustCompile(`(?:src|href)="(/[^"]+)"`).FindAllStringSubmatch(page, -1)
	imports := regexp.MustCompile(`from "\./([^"]+)"`)
	seen := map[string]bool{}
	queue := []string{}
	for _, r := range refs {
		queue = append(queue, r[1])
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		status, _, body := get(t, app, p, nil)
		if status != 200 {
			t.Errorf("GET %s = %d", p, status)
			continue
		}
		for _, m := range imports.FindAllStringSubmatch(body, -1) {
			queue = append(queue, "/"+m[1])
		}
	}
	for _, want := range []string{"/app.js", "/app.css", "/api.js", "/socket.js", "/dom.js"} {
		if !seen[want] {
			t.Errorf("%s is not reachable from the page", want)
		}
	}
}

func TestUserContentIsNeverMarkup(t *testing.T) {
	for _, f := range []string{"/app.js", "/dom.js", "/api.js", "/socket.js"} {
		_, _, body := get(t, newApp(), f, nil)
		for _, bad := range []string{".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s uses %s", f, bad)
			}
		}
	}
}

func TestOtherPathsAreNotTaken(t *testing.T) {
	app := newApp()
	app.Use(func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusTeapot) })
	for _, p := range []string{"/index.html", "/api/v1/chats", "/web.go", "/doc.go"} {
		if status, _, _ := get(t, app, p, nil); status != fiber.StatusTeapot {
			t.Errorf("GET %s = %d, want it left to later routes", p, status)
		}
	}
}
