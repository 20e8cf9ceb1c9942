package web_test

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/fechatter/fechatter/adapters/http/web"
	"github.com/fechatter/fechatter/domain/message"
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
	for _, want := range []string{"/app.js", "/app.css", "/api.js", "/socket.js", "/dom.js", "/rich.js", "/i18n.js", "/i18n-zh.js", "/complete.js", "/emoji.js",
		"/manifest.webmanifest", "/icon.svg", "/icon-192.png"} {
		if !seen[want] {
			t.Errorf("%s is not reachable from the page", want)
		}
	}
}

func TestUserContentIsNeverMarkup(t *testing.T) {
	for _, f := range []string{"/app.js", "/dom.js", "/api.js", "/socket.js", "/rich.js", "/i18n.js", "/sw.js", "/complete.js", "/emoji.js"} {
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

// The client's page routes (a chat, a message, an invite link) answer with
// the page itself, under the same CSP; other paths stay free.
func TestPageRoutesServeThePage(t *testing.T) {
	app := newApp()
	app.Use(func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusTeapot) })
	_, _, index := get(t, app, "/", nil)
	for _, p := range []string{"/chats/12", "/chats/12/messages/3", "/join/AbC-123_x"} {
		status, h, body := get(t, app, p, nil)
		if status != 200 || body != index || !strings.Contains(h["Content-Security-Policy"], "script-src 'self'") || h["X-Frame-Options"] != "DENY" {
			t.Errorf("GET %s = %d, CSP %q, same page %v", p, status, h["Content-Security-Policy"], body == index)
		}
	}
	for _, p := range []string{"/chats", "/chats/1/members", "/join", "/chats/1/messages/2/x"} {
		if status, _, _ := get(t, app, p, nil); status != fiber.StatusTeapot {
			t.Errorf("GET %s = %d, want it left to later routes", p, status)
		}
	}
}

// The manifest makes the app installable: its icons and start page are served.
func TestManifestIsInstallable(t *testing.T) {
	app := newApp()
	status, h, body := get(t, app, "/manifest.webmanifest", nil)
	if status != 200 || h["Content-Type"] != "application/manifest+json" {
		t.Fatalf("manifest = %d %q", status, h["Content-Type"])
	}
	var m struct {
		Name, StartURL, Display string
		Icons                   []struct{ Src, Sizes, Type string }
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	sizes := map[string]bool{}
	for _, i := range m.Icons {
		st, h, _ := get(t, app, i.Src, nil)
		if st != 200 || h["Content-Type"] != i.Type {
			t.Errorf("icon %s = %d %q, want %q", i.Src, st, h["Content-Type"], i.Type)
		}
		sizes[i.Sizes] = true
	}
	if m.Name == "" || m.Display != "standalone" || !sizes["192x192"] || !sizes["512x512"] {
		t.Errorf("manifest %+v", m)
	}
	if st, h, sw := get(t, app, "/sw.js", nil); st != 200 || h["Content-Type"] != "text/javascript; charset=utf-8" || strings.Contains(sw, `"/api/`) {
		t.Errorf("sw.js = %d %q (it caches the shell only)", st, h["Content-Type"])
	}
}

// Every string of the client, in the scripts (t("...")) and in the page
// (data-i18n, data-i18n-attr), has a Chinese translation, and the table has
// no entry nothing uses.
func TestEveryStringIsTranslated(t *testing.T) {
	app := newApp()
	used := map[string]string{} // key -> where
	call := regexp.MustCompile(`\bt\("((?:[^"\\]|\\.)*)"`)
	for _, f := range []string{"/app.js", "/api.js", "/dom.js", "/rich.js", "/socket.js", "/complete.js"} {
		_, _, body := get(t, app, f, nil)
		for _, m := range call.FindAllStringSubmatch(body, -1) {
			used[m[1]] = f
		}
	}
	_, _, page := get(t, app, "/", nil)
	tag := regexp.MustCompile(`<[a-z][a-z0-9]*\b[^>]*>`)
	attr := regexp.MustCompile(`([a-z0-9-]+)="([^"]*)"`)
	for _, loc := range tag.FindAllStringIndex(page, -1) {
		open := page[loc[0]:loc[1]]
		attrs := map[string]string{}
		for _, a := range attr.FindAllStringSubmatch(open, -1) {
			attrs[a[1]] = a[2]
		}
		if names, ok := attrs["data-i18n-attr"]; ok {
			for _, n := range strings.Split(names, ",") {
				used[attrs[n]] = "index.html " + n
			}
		}
		if regexp.MustCompile(`\sdata-i18n[\s>]`).MatchString(open) {
			rest := page[loc[1]:]
			end := strings.Index(rest, "<")
			text := strings.Join(strings.Fields(rest[:end]), " ")
			if !strings.HasPrefix(rest[end:], "</") || text == "" {
				t.Errorf("index.html: %s marks no plain text (data-i18n needs a leaf element)", open)
			}
			used[text] = "index.html"
		}
	}
	_, _, zh := get(t, app, "/i18n-zh.js", nil)
	entry := regexp.MustCompile(`(?m)^\s*"((?:[^"\\]|\\.)*)":\s*"((?:[^"\\]|\\.)*)",`)
	have := map[string]bool{}
	for _, m := range entry.FindAllStringSubmatch(zh, -1) {
		have[m[1]] = true
		if m[2] == "" {
			t.Errorf("empty translation of %q", m[1])
		}
	}
	if len(used) < 100 {
		t.Fatalf("found only %d strings: the extraction is broken", len(used))
	}
	for k, where := range used {
		if !have[k] {
			t.Errorf("no Chinese for %q (%s)", k, where)
		}
	}
	for k := range have {
		if _, ok := used[k]; !ok {
			t.Errorf("i18n-zh.js: %q is not used", k)
		}
	}
}

// The reaction picker offers only emoji the server accepts: each passes
// the domain's own rule, and they are distinct.
func TestPickerEmojiAreValidReactions(t *testing.T) {
	_, _, body := get(t, newApp(), "/emoji.js", nil)
	m := regexp.MustCompile(`reactionEmoji = \[([^\]]*)\]`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("emoji.js has no reactionEmoji list")
	}
	var list []string
	if err := json.Unmarshal([]byte("["+m[1]+"]"), &list); err != nil {
		t.Fatalf("reactionEmoji: %v", err)
	}
	if len(list) < 6 || len(list) > message.MaxDistinctReactions {
		t.Fatalf("%d emoji in the picker", len(list))
	}
	seen := map[string]bool{}
	for _, e := range list {
		if err := message.ValidateEmoji(e); err != nil || seen[e] {
			t.Errorf("picker emoji %q: %v (repeated %v)", e, err, seen[e])
		}
		seen[e] = true
	}
}
