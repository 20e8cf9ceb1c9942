package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/fechatter/fechatter/ports/porttest"
)

// TestWebClientInTwoBrowsers drives the web client served at / in two
// headless Chromium sessions (two users of one workspace) against a whole
// server: sign-up with an invite, a group, a live message, typing, "Seen
// by", and search. Steps that need server features announce themselves in
// /openapi.json; a step whose route is absent is skipped with a log line.
//
// On failure a screenshot of each browser is kept in the system temp
// directory (fechatter-e2e-<test>-<user>.png); set
// FECHATTER_E2E_SCREENSHOTS=1 to keep them on success too.
func TestWebClientInTwoBrowsers(t *testing.T) {
	chrome := chromiumPath()
	if chrome == "" {
		t.Skip("chromium is not installed (apt-get install chromium): browser end-to-end test skipped")
	}
	t.Parallel()
	s := startServer(t)
	routes := s.openAPIPaths(t)
	h := &browsers{t: t}
	alice := h.open(chrome, "alice")
	bob := h.open(chrome, "bob")
	defer func() { h.screenshotsIf(!t.Failed() && os.Getenv("FECHATTER_E2E_SCREENSHOTS") != "") }()

	ws := porttest.Unique("web-")
	alice.do("Alice signs up with a new workspace",
		chromedp.Navigate(s.base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#signup-form")),
		chromedp.SendKeys(chromedp.CSS("#su-name"), "Alice Archer"),
		chromedp.SendKeys(chromedp.CSS("#su-email"), porttest.Unique("alice")+"@web.test"),
		chromedp.SendKeys(chromedp.CSS("#su-password"), "correct-horse"),
		chromedp.SendKeys(chromedp.CSS("#su-workspace"), ws),
		chromedp.Click(chromedp.CSS("#signup-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#chat-view")),
		waitJS(`document.querySelector("#me-name").textContent === "Alice Archer"`),
	)

	var code string
	alice.do("Alice creates an invite code",
		chromedp.Click(chromedp.CSS("#invite-btn")),
		chromedp.WaitVisible(chromedp.CSS("#invite-dialog")),
		chromedp.Click(chromedp.CSS("#invite-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#invite-result")),
		into(chromedp.Value(chromedp.CSS("#invite-code")), &code),
		chromedp.Click(chromedp.CSS("#invite-dialog [data-close]")),
		chromedp.WaitNotVisible(chromedp.CSS("#invite-dialog")),
	)
	if code == "" {
		h.fatalf("the invite dialog shows no code")
	}

	bob.do("Bob signs up with the invite code",
		chromedp.Navigate(s.base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#signup-form")),
		chromedp.SendKeys(chromedp.CSS("#su-name"), "Bob Baker"),
		chromedp.SendKeys(chromedp.CSS("#su-email"), porttest.Unique("bob")+"@web.test"),
		chromedp.SendKeys(chromedp.CSS("#su-password"), "correct-horse"),
		chromedp.SendKeys(chromedp.CSS("#su-workspace"), ws),
		chromedp.SendKeys(chromedp.CSS("#su-invite"), code),
		chromedp.Click(chromedp.CSS("#signup-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#chat-view")),
		waitJS(`document.querySelector("#me-name").textContent === "Bob Baker"`),
		// The socket is up (hello seen) before Alice makes the group, so
		// the group arrives live.
		waitJS(`document.querySelector("#conn-status").dataset.state === "open"`),
	)

	bob2 := bob.tab("bob-tab2")
	bob2.do("A second tab of Bob's browser is already signed in (the refresh cookie)",
		chromedp.Navigate(s.base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#chat-view")),
		waitJS(`document.querySelector("#me-name").textContent === "Bob Baker"`),
		waitJS(`document.querySelector("#conn-status").dataset.state === "open"`),
		// The refresh token never reaches the page's storage.
		waitJS(`!JSON.stringify({...localStorage}).includes("refresh") && !document.cookie.includes("fechatter_refresh")`),
	)

	alice.do("Alice creates a group with Bob",
		chromedp.Click(chromedp.CSS("#new-chat-btn")),
		chromedp.WaitVisible(chromedp.CSS("#new-chat-dialog")),
		chromedp.SetValue(chromedp.CSS("#nc-type"), "group"),
		chromedp.SendKeys(chromedp.CSS("#nc-name"), "launch"),
		chromedp.Click(`//ul[@id="nc-people"]//label[contains(., "Bob Baker")]`),
		chromedp.Click(chromedp.CSS("#new-chat-form button[type=submit]")),
		chromedp.WaitNotVisible(chromedp.CSS("#new-chat-dialog")),
		waitJS(`document.querySelector("#chat-title").textContent === "launch"`),
	)

	bob.do("Bob sees the group appear and opens it",
		chromedp.Click(`//ul[@id="chat-list"]//button[contains(., "launch")]`),
		waitJS(`document.querySelector("#chat-title").textContent === "launch"`),
		waitJS(`document.querySelector("#empty-pane").hidden`),
	)

	alice.do("Alice sends a message with Enter",
		chromedp.SendKeys(chromedp.CSS("#composer-input"), "hello from A"),
		pressEnter("#composer-input"),
		waitJS(messageShown("hello from A")),
		waitJS(`document.querySelector("#pending-list").children.length === 0`),
		waitJS(`document.querySelector("#composer-input").value === ""`),
	)

	bob.do("Bob sees it live",
		waitJS(messageShown("hello from A")),
		waitJS(`document.querySelector("#messages li:last-child .sender").textContent === "Alice Archer"`),
	)

	if routes["/api/v1/chats/{id}/typing"] {
		bob.do("Bob types", chromedp.SendKeys(chromedp.CSS("#composer-input"), "on my way"))
		alice.do("Alice sees Bob typing",
			waitJS(`document.querySelector("#typing").textContent.includes("Bob Baker is typing")`))
	} else {
		t.Log("typing step skipped: the server does not serve /api/v1/chats/{id}/typing yet")
		bob.do("Bob types", chromedp.SendKeys(chromedp.CSS("#composer-input"), "on my way"))
	}

	if routes["/api/v1/chats/{id}/read"] {
		alice.do("Alice sees Bob has read her message",
			waitJS(`(document.querySelector("#messages .seen")?.textContent ?? "").includes("Seen by Bob Baker")`))
	} else {
		t.Log(`"Seen by" step skipped: the server does not serve /api/v1/chats/{id}/read yet`)
	}

	bob.do("Bob answers with Enter",
		pressEnter("#composer-input"),
		waitJS(`document.querySelector("#composer-input").value === ""`))
	alice.do("Alice gets the answer and Bob is no longer typing",
		waitJS(messageShown("on my way")),
		waitJS(`document.querySelector("#typing").textContent === ""`),
	)

	alice.do("Alice searches and opens the result",
		chromedp.SendKeys(chromedp.CSS("#search-input"), "hello"),
		// Indexing is asynchronous (a batch or a second): search again
		// until the hit shows.
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			for {
				if _, err := pressEnter("#search-input")(ctx, tg); err != nil {
					return err
				}
				_, err := chromedp.Poll[chromedp.Void](`document.querySelector("#search-status").textContent !== "Searching…"`,
					chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(5*time.Second))(ctx, tg)
				if err != nil {
					return err
				}
				n, err := chromedp.Evaluate[int](`document.querySelectorAll("#search-results .hit").length`)(ctx, tg)
				if err != nil {
					return err
				}
				if n > 0 {
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(300 * time.Millisecond):
				}
			}
		}),
		waitJS(`document.querySelector("#search-results .hit mark")?.textContent.toLowerCase() === "hello"`),
		waitJS(`document.querySelector("#search-results .hit-text").textContent === "hello from A"`),
		chromedp.Click(chromedp.CSS("#search-results .hit")),
		waitJS(`document.querySelector("#messages li.found .body")?.textContent === "hello from A"`),
	)

	alice.do("Alice opens a public channel",
		chromedp.Click(chromedp.CSS("#search-close")),
		chromedp.Click(chromedp.CSS("#new-chat-btn")),
		chromedp.WaitVisible(chromedp.CSS("#new-chat-dialog")),
		chromedp.SetValue(chromedp.CSS("#nc-type"), "public_channel"),
		chromedp.SendKeys(chromedp.CSS("#nc-name"), "town-square"),
		chromedp.Click(chromedp.CSS("#new-chat-form button[type=submit]")),
		chromedp.WaitNotVisible(chromedp.CSS("#new-chat-dialog")),
		waitJS(`document.querySelector("#chat-title").textContent === "town-square"`),
	)
	bob.do("Bob browses public channels and joins it",
		chromedp.SendKeys(chromedp.CSS("#join-q"), "town"),
		chromedp.Click(chromedp.CSS("#join-form button[type=submit]")),
		chromedp.Click(`//ul[@id="channel-results"]//button[contains(., "Join")]`),
		waitJS(`document.querySelector("#chat-title").textContent === "town-square"`),
		waitJS(`[...document.querySelectorAll("#chat-list button")].some((b) => b.textContent.includes("town-square"))`),
	)

	h.noExceptions()
}

// messageShown is a JS expression: a message with this text is on screen.
func messageShown(text string) string {
	q, _ := json.Marshal(text)
	return fmt.Sprintf(`[...document.querySelectorAll("#messages .body")].some((e) => e.textContent === %s)`, q)
}

// pressEnter presses Enter in an element as a keyboard does: one keydown
// that carries the text, so a handler that prevents the default stops the
// new line (chromedp's SendKeys sends the character as an event of its own).
func pressEnter(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Focus(chromedp.CSS(sel)), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter",
			WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Text: "\r", UnmodifiedText: "\r"}
		if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := down
		up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
		_, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, up)
		return err
	}))
}

// waitJS waits until the expression is truthy.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout))
}

// into runs an action that returns a value and keeps the value in dst.
func into[T any](a chromedp.Action[T], dst *T) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, tg)
		*dst = v
		return chromedp.Void{}, err
	}
}

// chromiumPath is Debian's chromium, or whatever chromium is on PATH; ""
// when there is none.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

// openAPIPaths returns the paths /openapi.json lists.
func (s server) openAPIPaths(t *testing.T) map[string]bool {
	t.Helper()
	resp, err := http.Get(s.base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	out := map[string]bool{}
	for p := range doc.Paths {
		out[p] = true
	}
	return out
}

// browsers are the headless Chromium sessions of one test.
type browsers struct {
	t    *testing.T
	all  []*browser
	mu   sync.Mutex
	errs []string // uncaught exceptions in any page
	logs []string // console errors and warnings, shown on failure
}

type browser struct {
	h    *browsers
	name string
	ctx  context.Context
}

const stepTimeout = 20 * time.Second

// open starts a browser with a fresh profile on a closed network: no
// sync, no component updates, no QUIC, nothing fetched in the background.
func (h *browsers) open(chrome, name string) *browser {
	t := h.t
	dir, err := os.MkdirTemp("", "fechatter-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1100, 760),
	)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		acancel() // waits for the browser to exit
		_ = os.RemoveAll(dir)
	})
	// The browser lives as long as the context of its first run: no
	// timeout on that context, a timer instead.
	slow := time.AfterFunc(30*time.Second, cancel)
	err = chromedp.Do(ctx)
	slow.Stop()
	if err != nil {
		t.Fatalf("start chromium (%s): %v", chrome, err)
	}
	return h.watch(ctx, cancel, name)
}

// tab opens another tab of b's browser (same profile: cookies, storage).
func (b *browser) tab(name string) *browser {
	ctx, cancel := chromedp.NewContext(b.ctx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		b.h.t.Fatalf("open a tab: %v", err)
	}
	return b.h.watch(ctx, cancel, name)
}

// watch records what a page reports: uncaught exceptions and console
// errors (CSP violations, failed requests) fail the test, warnings are
// shown on failure.
func (h *browsers) watch(ctx context.Context, cancel context.CancelFunc, name string) *browser {
	t := h.t
	console := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range console {
			if err != nil {
				return
			}
			switch {
			case m.IsException():
				h.mu.Lock()
				h.errs = append(h.errs, fmt.Sprintf("%s: %s (%s:%d)", name, m.Text, m.URL, m.Line+1))
				h.mu.Unlock()
			case m.Type == chromedp.ConsoleError:
				h.mu.Lock()
				h.errs = append(h.errs, fmt.Sprintf("%s console error: %s", name, m.Text))
				h.mu.Unlock()
			case m.Type == chromedp.ConsoleWarning:
				h.mu.Lock()
				h.logs = append(h.logs, fmt.Sprintf("%s console %s: %s", name, m.Type, m.Text))
				h.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	b := &browser{h: h, name: name, ctx: ctx}
	h.all = append(h.all, b)
	return b
}

// do runs one step of the story in this browser; on failure it keeps
// screenshots of every browser and stops the test.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.h.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	start := time.Now()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.h.fatalf("%s (%s): %v after %v", step, b.name, err, time.Since(start).Round(time.Millisecond))
	}
}

func (h *browsers) fatalf(format string, args ...any) {
	h.t.Helper()
	h.screenshotsIf(true)
	h.mu.Lock()
	errs := strings.Join(h.errs, "\n")
	logs := strings.Join(h.logs, "\n")
	h.mu.Unlock()
	if errs != "" {
		errs = "\nuncaught exceptions in the pages:\n" + errs
	}
	if logs != "" {
		errs += "\nconsole:\n" + logs
	}
	h.t.Fatalf(format+"%s", append(args, errs)...)
}

func (h *browsers) noExceptions() {
	h.t.Helper()
	h.mu.Lock()
	n := len(h.errs)
	h.mu.Unlock()
	if n > 0 {
		h.fatalf("the story passed, but a page threw")
	}
}

// screenshotsIf writes a PNG of each browser's page to the system temp
// directory (t.TempDir would be deleted) and logs where.
func (h *browsers) screenshotsIf(keep bool) {
	if !keep {
		return
	}
	name := strings.NewReplacer("/", "-", " ", "_").Replace(h.t.Name())
	for _, b := range h.all {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			h.t.Logf("screenshot of %s: %v", b.name, err)
			continue
		}
		path := filepath.Join(os.TempDir(), fmt.Sprintf("fechatter-e2e-%s-%s.png", name, b.name))
		if err := os.WriteFile(path, png, 0o644); err != nil {
			h.t.Logf("screenshot of %s: %v", b.name, err)
			continue
		}
		h.t.Logf("screenshot of %s's browser: %s", b.name, path)
	}
}
