package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
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
	aliceEmail, bobEmail := porttest.Unique("alice")+"@web.test", porttest.Unique("bob")+"@web.test"
	alice.do("The signed-out page: every control labelled, English by default",
		chromedp.Navigate(s.base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#signup-form")),
		waitJS(`document.documentElement.lang === "en"`),
	)
	alice.labelled("the sign-in page")
	alice.do("Alice signs up with a new workspace",
		chromedp.WaitVisible(chromedp.CSS("#signup-form")),
		chromedp.SendKeys(chromedp.CSS("#su-name"), "Alice Archer"),
		chromedp.SendKeys(chromedp.CSS("#su-email"), aliceEmail),
		chromedp.SendKeys(chromedp.CSS("#su-password"), "correct-horse"),
		chromedp.SendKeys(chromedp.CSS("#su-workspace"), ws),
		chromedp.Click(chromedp.CSS("#signup-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#chat-view")),
		waitJS(`document.querySelector("#me-name").textContent === "Alice Archer"`),
	)

	var code, link string
	alice.do("Alice (the owner) creates an invite link",
		waitJS(`!document.querySelector("#invite-btn").hidden`),
		chromedp.Click(chromedp.CSS("#invite-btn")),
		chromedp.WaitVisible(chromedp.CSS("#invite-dialog")),
		chromedp.Click(chromedp.CSS("#invite-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#invite-result")),
		into(chromedp.Value(chromedp.CSS("#invite-code")), &code),
		into(chromedp.Value(chromedp.CSS("#invite-link")), &link),
	)
	alice.labelled("the invite dialog")
	alice.do("Closing the dialog gives focus back to the Invite button",
		chromedp.Click(chromedp.CSS("#invite-dialog [data-close]")),
		chromedp.WaitNotVisible(chromedp.CSS("#invite-dialog")),
		waitJS(`document.activeElement?.id === "invite-btn"`),
	)
	if code == "" || link != s.base+"/join/"+code+"?workspace="+url.QueryEscape(ws) {
		h.fatalf("the invite dialog shows code %q and link %q", code, link)
	}

	bob.do("Bob opens the invite link: the workspace and code are filled in",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("#signup-form")),
		waitJS(fmt.Sprintf(`document.querySelector("#su-invite").value === %q && document.querySelector("#su-workspace").value === %q`, code, ws)),
		waitJS(`document.activeElement?.id === "su-name"`),
		chromedp.SendKeys(chromedp.CSS("#su-name"), "Bob Baker"),
		chromedp.SendKeys(chromedp.CSS("#su-email"), bobEmail),
		chromedp.SendKeys(chromedp.CSS("#su-password"), "correct-horse"),
		chromedp.Click(chromedp.CSS("#signup-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#chat-view")),
		waitJS(`document.querySelector("#me-name").textContent === "Bob Baker"`),
		// The socket is up (hello seen) before Alice makes the group, so
		// the group arrives live.
		waitJS(`document.querySelector("#conn-status").dataset.state === "open"`),
		// A member cannot invite: no button; the address is back at /.
		waitJS(`document.querySelector("#invite-btn").hidden && location.pathname === "/"`),
	)
	bob.do("The session cookie outlives the browser (persistent, HttpOnly, SameSite=Strict)",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			r, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{s.base + "/api/v1/auth/refresh"}})
			if err != nil {
				return err
			}
			for _, c := range r.Cookies {
				if c.Name == "fechatter_refresh" {
					if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Session || c.Expires < float64(time.Now().Add(24*time.Hour).Unix()) {
						return fmt.Errorf("cookie %+v", c)
					}
					return nil
				}
			}
			return fmt.Errorf("no fechatter_refresh cookie among %d", len(r.Cookies))
		}),
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
		waitJS(`/^\/chats\/\d+$/.test(location.pathname) && document.title === "launch · Fechatter"`),
	)

	bob.do("Bob sees the group appear and opens it; the address names the chat",
		chromedp.Click(`//ul[@id="chat-list"]//button[contains(., "launch")]`),
		waitJS(`document.querySelector("#chat-title").textContent === "launch"`),
		waitJS(`document.querySelector("#empty-pane").hidden`),
		waitJS(`/^\/chats\/\d+$/.test(location.pathname)`),
	)
	bob.do("A reload reopens the chat from its address, still signed in",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#chat-view")),
		waitJS(`document.querySelector("#chat-title").textContent === "launch" && !document.querySelector("#chat-pane").hidden`),
		waitJS(`document.querySelector("#conn-status").dataset.state === "open"`),
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

	// ---- rich text, links that cannot run script, no injected markup
	alice.do("Alice switches to launch and sends Markdown, a link and would-be markup",
		chromedp.Click(`//ul[@id="chat-list"]//button[contains(., "launch")]`),
		waitJS(`document.querySelector("#chat-title").textContent === "launch"`),
		chromedp.SetValue(chromedp.CSS("#composer-input"), "**bold** and _it_ and `code` see https://example.com/a?b=1. <img src=x onerror=alert(1)> javascript:alert(2)\n- one\n- two\n> quoted"),
		pressEnter("#composer-input"),
		waitJS(`document.querySelector("#pending-list").children.length === 0`),
	)
	bob.do("Bob sees it formatted, the link safe, nothing injected",
		chromedp.Click(`//ul[@id="chat-list"]//button[contains(., "launch")]`),
		waitJS(`!!document.querySelector("#messages .body strong")`),
		waitJS(`(() => {
			const b = [...document.querySelectorAll("#messages .body")].find((e) => e.querySelector("strong"));
			const a = b.querySelector("a");
			return b.querySelector("strong").textContent === "bold" && b.querySelector("em").textContent === "it" &&
				b.querySelector("code").textContent === "code" && b.querySelectorAll("ul li").length === 2 &&
				b.querySelector("blockquote").textContent === "quoted" &&
				a.href === "https://example.com/a?b=1" && a.rel === "noopener noreferrer" && a.target === "_blank" &&
				b.querySelectorAll("a").length === 1 && !document.querySelector("#messages img") &&
				b.textContent.includes("<img src=x onerror=alert(1)>") && b.textContent.includes("javascript:alert(2)");
		})()`),
	)

	// ---- keyboard: the log is one tab stop; replies from the message menu
	bob.do("Message actions are not tab stops; a day separator says Today",
		waitJS(`[...document.querySelectorAll("#messages button, #messages a, #messages [tabindex]")].filter((e) => e.tabIndex >= 0).length <= 1`),
		waitJS(`document.querySelector("#messages .day-sep")?.textContent === "Today"`),
	)
	bob.do("Bob replies to Alice's first message from its menu, by keyboard",
		pressKey(`#messages li.msg[data-seq="1"]`, "Enter"),
		chromedp.WaitVisible(chromedp.CSS("#msg-menu")),
		waitJS(`document.activeElement?.getAttribute("role") === "menuitem" && document.activeElement.textContent === "Reply"`),
	)
	bob.labelled("the message menu")
	bob.do("Reply puts the composer in reply mode",
		pressKey("#msg-menu button", "Enter"),
		waitJS(`!document.querySelector("#reply-bar").hidden && document.activeElement?.id === "composer-input"`),
		waitJS(`document.querySelector("#reply-text").textContent.includes("hello from A")`),
		chromedp.SendKeys(chromedp.CSS("#composer-input"), "a reply"),
		pressEnter("#composer-input"),
		waitJS(`document.querySelector("#reply-bar").hidden`),
	)
	alice.do("Alice sees the reply quoting her message",
		waitJS(`[...document.querySelectorAll("#messages .msg")].some((li) => li.querySelector(".body")?.textContent === "a reply" &&
			li.querySelector(".reply-quote")?.textContent.includes("hello from A"))`),
	)

	// ---- avatars, files, reactions, mentions, threads (issue 14)
	dir := t.TempDir()
	face, sunset := filepath.Join(dir, "face.png"), filepath.Join(dir, "sunset.png")
	for path, png := range map[string][]byte{face: picturePNG(t, 300, 300, true), sunset: picturePNG(t, 800, 450, false)} {
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	alice.do("Alice sets her picture in her profile",
		chromedp.Click(chromedp.CSS("#profile-btn")),
		chromedp.WaitVisible(chromedp.CSS("#profile-dialog")),
		waitJS(`document.activeElement?.id === "profile-name" && document.querySelector("#profile-name").value === "Alice Archer"`),
		chromedp.SetUploadFiles(chromedp.CSS("#profile-file"), []string{face}),
		waitJS(`document.querySelector("#profile-avatar img")?.naturalWidth > 0`),
	)
	alice.labelled("the profile dialog")
	alice.do("Saving shows her picture in the header",
		chromedp.Click(chromedp.CSS("#profile-form button[type=submit]")),
		chromedp.WaitNotVisible(chromedp.CSS("#profile-dialog")),
		waitJS(`document.querySelector("#me-avatar img")?.naturalWidth > 0`),
		waitJS(`document.activeElement?.id === "profile-btn"`),
	)
	bob.do("Bob sees Alice's picture beside her messages, live (user.updated)",
		waitJS(`(() => { const imgs = [...document.querySelectorAll("#messages li.msg:not(.mine) img.msg-avatar")];
			return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0); })()`),
	)

	rename := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.Click(chromedp.CSS("#profile-btn")),
			chromedp.WaitVisible(chromedp.CSS("#profile-dialog")),
			chromedp.SetValue(chromedp.CSS("#profile-name"), name),
			chromedp.Click(chromedp.CSS("#profile-form button[type=submit]")),
			chromedp.WaitNotVisible(chromedp.CSS("#profile-dialog")),
			waitJS(fmt.Sprintf(`document.querySelector("#me-name").textContent === %q`, name)),
		)
	}
	aliceSenders := func(name string) chromedp.Action[chromedp.Void] {
		return waitJS(fmt.Sprintf(`(() => { const s = [...document.querySelectorAll("#messages li.msg:not(.mine) .sender")];
			return s.length > 0 && s.every((e) => e.textContent === %q); })()`, name))
	}
	alice.do("Alice changes her name", rename("Alice Arden"))
	bob.do("Bob sees the new name on her messages, live", aliceSenders("Alice Arden"))
	alice.do("Alice takes her name back", rename("Alice Archer"))
	bob.do("Bob sees it again", aliceSenders("Alice Archer"))

	alice.do("Alice attaches an image with the button and sends it with a line",
		chromedp.SetUploadFiles(chromedp.CSS("#file-input"), []string{sunset}),
		waitJS(`document.querySelector('#upload-tray li[data-status="done"] img.tray-thumb')?.naturalWidth > 0`),
		chromedp.SendKeys(chromedp.CSS("#composer-input"), "the sunset"),
		pressEnter("#composer-input"),
		waitJS(`document.querySelector("#pending-list").children.length === 0 && document.querySelector("#upload-tray").hidden`),
		waitJS(`document.querySelector("#messages li.msg:has(img.thumb) .body")?.textContent === "the sunset"`),
	)
	alice.do("Alice pastes one file and drops another, and sends them without text",
		chromedp.Evaluate[chromedp.Void](`(() => {
			const file = (name, text) => new File([text], name, { type: "text/plain" });
			const paste = new DataTransfer();
			paste.items.add(file("notes.txt", "meeting notes"));
			document.querySelector("#composer-input").dispatchEvent(new ClipboardEvent("paste", { clipboardData: paste, bubbles: true, cancelable: true }));
			const drop = new DataTransfer();
			drop.items.add(file("plan.txt", "the plan"));
			const pane = document.querySelector("#chat-pane");
			pane.dispatchEvent(new DragEvent("dragenter", { dataTransfer: drop, bubbles: true, cancelable: true }));
			pane.dispatchEvent(new DragEvent("drop", { dataTransfer: drop, bubbles: true, cancelable: true }));
		})()`),
		waitJS(`document.querySelectorAll('#upload-tray li[data-status="done"]').length === 2`),
		pressEnter("#composer-input"),
		waitJS(`document.querySelector("#pending-list").children.length === 0 && document.querySelector("#upload-tray").hidden`),
	)
	bob.do("Bob sees the thumbnail and the two download links",
		waitJS(`(() => { const i = document.querySelector("#messages li.msg:has(img.thumb) img.thumb"); return i && i.complete && i.naturalWidth > 0 && i.alt === "sunset.png"; })()`),
		waitJS(`[...document.querySelectorAll("#messages a.file")].map((a) => a.download + " " + a.href.includes("/content?")).join() === "notes.txt true,plan.txt true"`),
	)

	bob.do("Bob reacts to the image from the message menu, by keyboard",
		pressKey(`#messages li.msg:has(img.thumb)`, "Enter"),
		chromedp.WaitVisible(chromedp.CSS("#msg-menu")),
		chromedp.Click(`//div[@id="msg-menu"]/button[contains(., "Add reaction")]`),
		chromedp.WaitVisible(chromedp.CSS("#emoji-picker")),
		waitJS(`document.activeElement?.getAttribute("role") === "menuitemcheckbox" && document.activeElement.textContent === "👍"`),
	)
	bob.labelled("the emoji picker")
	bob.do("Bob picks 👍: his reaction shows, pressed",
		pressKey("#emoji-picker button", "Enter"),
		chromedp.WaitNotVisible(chromedp.CSS("#emoji-picker")),
		waitJS(`(() => { const r = document.querySelector('#messages li.msg:has(img.thumb) .reaction[data-emoji="👍"]'); return r?.getAttribute("aria-pressed") === "true" && r.querySelector(".reaction-count").textContent === "1"; })()`),
	)
	alice.do("Alice sees the count live and adds hers by clicking it",
		waitJS(`(() => { const r = document.querySelector('#messages li.msg:has(img.thumb) .reaction[data-emoji="👍"]'); return r?.getAttribute("aria-pressed") === "false" && r.querySelector(".reaction-count").textContent === "1"; })()`),
		chromedp.Click(chromedp.CSS(`#messages li.msg:has(img.thumb) .reaction`)),
		waitJS(`(() => { const r = document.querySelector('#messages li.msg:has(img.thumb) .reaction'); return r?.getAttribute("aria-pressed") === "true" && r.querySelector(".reaction-count").textContent === "2"; })()`),
	)
	bob.do("Bob sees 2, then takes his back",
		waitJS(`document.querySelector('#messages li.msg:has(img.thumb) .reaction .reaction-count')?.textContent === "2"`),
		chromedp.Click(chromedp.CSS(`#messages li.msg:has(img.thumb) .reaction`)),
		waitJS(`(() => { const r = document.querySelector('#messages li.msg:has(img.thumb) .reaction'); return r?.getAttribute("aria-pressed") === "false" && r.querySelector(".reaction-count").textContent === "1"; })()`),
	)
	alice.do("Alice sees 1 again",
		waitJS(`document.querySelector('#messages li.msg:has(img.thumb) .reaction .reaction-count')?.textContent === "1"`))

	bob.do("Bob goes to another chat",
		chromedp.Click(`//ul[@id="chat-list"]//button[contains(., "town-square")]`),
		waitJS(`document.querySelector("#chat-title").textContent === "town-square"`),
	)
	alice.do("Alice mentions Bob through the @ autocomplete",
		chromedp.SendKeys(chromedp.CSS("#composer-input"), "look @Bo"),
		waitJS(`!document.querySelector("#composer-mentions").hidden && document.querySelector("#composer-mentions [aria-selected=true]")?.textContent === "@Bob Baker"`),
		waitJS(`document.querySelector("#composer-input").getAttribute("aria-activedescendant") === document.querySelector("#composer-mentions [aria-selected=true]").id`),
		pressEnter("#composer-input"),
		waitJS(`document.querySelector("#composer-input").value === "look @Bob Baker " && document.querySelector("#composer-mentions").hidden`),
		chromedp.SendKeys(chromedp.CSS("#composer-input"), "at the sunset"),
		pressEnter("#composer-input"),
		waitJS(`document.querySelector("#pending-list").children.length === 0`),
		waitJS(`[...document.querySelectorAll("#messages .body")].some((b) => b.textContent === "look @Bob Baker at the sunset" && b.querySelector(".mention")?.textContent === "@Bob Baker")`),
	)
	bob.do("Bob's chat list counts the mention where it counts the unread",
		waitJS(`document.querySelector('#chat-list button.unread .mention-badge')?.textContent === "@1" && document.querySelector("#mentions-badge").textContent === "1"`),
		waitJS(`document.title === "(1, @1) town-square · Fechatter"`),
	)
	bob.do("Bob's Mentions view lists it; opening it shows the message, the count gone",
		chromedp.Click(chromedp.CSS("#mentions-btn")),
		chromedp.WaitVisible(chromedp.CSS("#mentions-panel")),
		waitJS(`document.querySelector("#mentions-list .hit-text")?.textContent === "look @Bob Baker at the sunset"`),
		chromedp.Click(chromedp.CSS("#mentions-list .hit")),
		waitJS(`document.querySelector("#messages li.msg.found .mention.me")?.textContent === "@Bob Baker"`),
		waitJS(`document.querySelector("#mentions-badge").hidden && !document.querySelector("#chat-list .mention-badge")`),
	)
	bob.labelled("the Mentions view")
	bob.do("Bob closes the Mentions view", chromedp.Click(chromedp.CSS("#mentions-close")), waitJS(`!document.querySelector("#chat-list").closest("[hidden]")`))

	bob.do("Bob replies in the image's thread",
		pressKey(`#messages li.msg:has(img.thumb)`, "Enter"),
		chromedp.WaitVisible(chromedp.CSS("#msg-menu")),
		chromedp.Click(`//div[@id="msg-menu"]/button[contains(., "Reply in thread")]`),
		chromedp.WaitVisible(chromedp.CSS("#thread-panel")),
		waitJS(`document.activeElement?.id === "thread-input" && !!document.querySelector("#thread-root img.thumb")`),
		chromedp.SendKeys(chromedp.CSS("#thread-input"), "lovely colours"),
		pressEnter("#thread-input"),
		waitJS(`[...document.querySelectorAll("#thread-replies .body")].some((b) => b.textContent === "lovely colours")`),
		waitJS(`document.querySelector("#thread-count").textContent === "1 reply"`),
	)
	bob.labelled("the thread panel")
	alice.do("Alice sees the reply count under the image and opens the thread",
		waitJS(`document.querySelector("#messages li.msg:has(img.thumb) .thread-summary .thread-count")?.textContent === "1 reply"`),
		chromedp.Click(chromedp.CSS("#messages li.msg:has(img.thumb) .thread-summary")),
		chromedp.WaitVisible(chromedp.CSS("#thread-panel")),
		waitJS(`[...document.querySelectorAll("#thread-replies .body")].some((b) => b.textContent === "lovely colours")`),
		chromedp.SendKeys(chromedp.CSS("#thread-input"), "thanks!"),
		pressEnter("#thread-input"),
		waitJS(`document.querySelector("#thread-count").textContent === "2 replies"`),
	)
	bob.do("Bob's open thread and the count under the root follow (thread.updated)",
		waitJS(`[...document.querySelectorAll("#thread-replies .body")].some((b) => b.textContent === "thanks!")`),
		waitJS(`document.querySelector("#messages li.msg:has(img.thumb) .thread-summary .thread-count")?.textContent === "2 replies"`),
		chromedp.Click(chromedp.CSS("#thread-close")),
		chromedp.WaitNotVisible(chromedp.CSS("#thread-panel")),
		// Back to the chat's own address (the mention opened a message's).
		chromedp.Click(`//ul[@id="chat-list"]//button[contains(., "launch")]`),
		waitJS(`/^\/chats\/\d+$/.test(location.pathname)`),
	)

	h.readmeShot(alice, "web-desktop.png")

	alice.do("Escape closes the thread; t on a message opens it again, Escape gives focus back to the message",
		pressKey("#thread-input", "Escape"),
		chromedp.WaitNotVisible(chromedp.CSS("#thread-panel")),
		pressKey("#messages li.msg:has(img.thumb)", "t"),
		chromedp.WaitVisible(chromedp.CSS("#thread-panel")),
		waitJS(`document.activeElement?.id === "thread-input" && document.querySelectorAll("#thread-replies .msg").length === 2`),
		pressKey("#thread-input", "Escape"),
		chromedp.WaitNotVisible(chromedp.CSS("#thread-panel")),
		waitJS(`document.activeElement?.matches?.("#messages li.msg:has(img.thumb)")`),
	)

	// ---- in-app confirm dialog, focus back
	alice.do("Alice deletes a message through the in-app dialog",
		pressKey(`#messages li.msg[data-seq="1"]`, "Delete"),
		chromedp.WaitVisible(chromedp.CSS("#confirm-dialog")),
		waitJS(`document.activeElement?.id === "confirm-ok"`),
	)
	alice.labelled("the confirm dialog")
	alice.do("The message shows as deleted and focus is back on it",
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		chromedp.WaitNotVisible(chromedp.CSS("#confirm-dialog")),
		waitJS(`document.querySelector('#messages li.msg[data-seq="1"]')?.classList.contains("deleted")`),
		waitJS(`document.activeElement?.closest?.("#messages .msg")?.dataset.seq === "1"`),
	)

	// ---- character counter instead of silent truncation
	alice.do("A text over 4000 characters is kept and flagged, not cut or sent",
		chromedp.Evaluate[chromedp.Void](`(() => { const i = document.querySelector("#composer-input"); i.value = "x".repeat(4001); i.dispatchEvent(new Event("input")); })()`),
		waitJS(`document.querySelector("#composer-count").textContent === "4001 / 4000" && document.querySelector("#composer-count").classList.contains("over")`),
		pressEnter("#composer-input"),
		waitJS(`document.querySelector("#composer-input").value.length === 4001 && document.querySelector("#pending-list").children.length === 0`),
		chromedp.Evaluate[chromedp.Void](`(() => { const i = document.querySelector("#composer-input"); i.value = ""; i.dispatchEvent(new Event("input")); })()`),
		waitJS(`document.querySelector("#composer-count").textContent === ""`),
	)

	// ---- a link to a message scrolls to it and highlights it; Back and Forward
	var launchPath string
	bob.do("Bob's address for launch", into(chromedp.Evaluate[string](`location.pathname`), &launchPath))
	bob.do("A link to a message opens it highlighted",
		chromedp.Navigate(s.base+launchPath+"/messages/2"),
		waitJS(`document.querySelector('#messages li.msg.found')?.dataset.seq === "2"`),
		waitJS(`document.activeElement?.dataset?.seq === "2"`),
	)
	bob.do("Back and Forward move between chats",
		chromedp.Click(`//ul[@id="chat-list"]//button[contains(., "town-square")]`),
		waitJS(`document.querySelector("#chat-title").textContent === "town-square"`),
		chromedp.NavigateBack(),
		waitJS(`document.querySelector("#chat-title").textContent === "launch"`),
		chromedp.NavigateForward(),
		waitJS(`document.querySelector("#chat-title").textContent === "town-square"`),
	)

	// ---- unread divider, jump button, title and icon
	alice.do("Alice writes two lines in launch while Bob is elsewhere",
		chromedp.SendKeys(chromedp.CSS("#composer-input"), "first unread"),
		pressEnter("#composer-input"),
		waitJS(`document.querySelector("#pending-list").children.length === 0`),
		chromedp.SendKeys(chromedp.CSS("#composer-input"), "second unread"),
		pressEnter("#composer-input"),
		waitJS(`document.querySelector("#pending-list").children.length === 0`),
	)
	bob.do("Bob's tab title and icon count the unread",
		waitJS(`document.title.startsWith("(2) ") && document.querySelector("#favicon").href.startsWith("data:image/png")`),
	)
	bob.do("Opening launch shows the unread divider above them",
		chromedp.Click(`//ul[@id="chat-list"]//button[contains(., "launch")]`),
		waitJS(`(() => { const d = document.querySelector("#messages .unread-sep"); return d && d.nextElementSibling?.querySelector(".body")?.textContent === "first unread"; })()`),
		waitJS(`!document.title.startsWith("(")`),
	)
	alice.do("Alice sends a tall message", chromedp.SetValue(chromedp.CSS("#composer-input"), strings.Repeat("line\n", 60)+"end"), pressEnter("#composer-input"),
		waitJS(`document.querySelector("#pending-list").children.length === 0`))
	bob.do("Bob scrolls up; a new message shows the jump button, which goes down",
		waitJS(`[...document.querySelectorAll("#messages .body")].some((e) => e.textContent.endsWith("end"))`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#message-scroll").scrollTop = 0`),
	)
	alice.do("Alice sends one more", chromedp.SendKeys(chromedp.CSS("#composer-input"), "below the fold"), pressEnter("#composer-input"))
	bob.do("The jump button appears and takes Bob down",
		waitJS(`!document.querySelector("#jump-btn").hidden && document.querySelector("#jump-btn").textContent.startsWith("1 new message")`),
		chromedp.Click(chromedp.CSS("#jump-btn")),
		waitJS(`document.querySelector("#jump-btn").hidden`),
		waitJS(`(() => { const s = document.querySelector("#message-scroll"); return s.scrollHeight - s.scrollTop - s.clientHeight < 60; })()`),
	)

	// ---- desktop notifications for a mention while the page is hidden
	bob.do("Notifications are offered by a button, not a prompt",
		waitJS(`Notification.permission === "default" && !document.querySelector("#notify-row").hidden`))
	bob.do("Bob allows notifications; the page reports itself hidden",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, chromedp.FromContext(ctx).Browser, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
				Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: s.base})
			return err
		}),
		waitJS(`Notification.permission === "granted"`),
		chromedp.Evaluate[chromedp.Void](`(() => {
			// Record what the page shows (headless Chromium has no notification centre).
			const N = window.Notification;
			window.shown = [];
			window.Notification = class extends N { constructor(title, o) { super(title, o); window.shown.push({ title, body: o?.body }); } };
			Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
			Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
			document.dispatchEvent(new Event("visibilitychange"));
		})()`),
	)
	alice.do("Alice writes one line without and one with a mention of Bob",
		chromedp.SendKeys(chromedp.CSS("#composer-input"), "no mention here"), pressEnter("#composer-input"),
		waitJS(`document.querySelector("#pending-list").children.length === 0`),
		chromedp.SendKeys(chromedp.CSS("#composer-input"), "@Bob Baker can you check?"), pressEnter("#composer-input"),
		waitJS(`document.querySelector("#pending-list").children.length === 0`),
	)
	bob.do("Bob gets one notification: the mention",
		waitJS(`window.shown.length === 1 && window.shown[0].title === "Alice Archer in launch" && window.shown[0].body === "@Bob Baker can you check?"`),
		waitJS(`!!document.querySelector("#messages .mention.me")`),
	)
	alice.do("Alice opens a direct chat with Bob and writes",
		chromedp.Click(chromedp.CSS("#new-chat-btn")),
		chromedp.WaitVisible(chromedp.CSS("#new-chat-dialog")),
		chromedp.SetValue(chromedp.CSS("#nc-type"), "direct"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#nc-type").dispatchEvent(new Event("change"))`),
		chromedp.Click(`//ul[@id="nc-people"]//label[contains(., "Bob Baker")]`),
		chromedp.Click(chromedp.CSS("#new-chat-form button[type=submit]")),
		chromedp.WaitNotVisible(chromedp.CSS("#new-chat-dialog")),
		waitJS(`document.querySelector("#chat-title").textContent === "Bob Baker"`),
		chromedp.SendKeys(chromedp.CSS("#composer-input"), "psst, a direct one"), pressEnter("#composer-input"),
		waitJS(`document.querySelector("#pending-list").children.length === 0`),
	)
	bob.do("Bob gets a notification for the direct message, then comes back",
		waitJS(`window.shown.length === 2 && window.shown[1].title === "Alice Archer" && window.shown[1].body === "psst, a direct one"`),
		chromedp.Evaluate[chromedp.Void](`(() => {
			delete document.visibilityState; delete document.hidden;
			document.dispatchEvent(new Event("visibilitychange"));
		})()`),
	)

	// ---- search: "load more"
	alice.do("Alice searches for a word of many messages and loads more",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			// 60 messages with one word, over REST (two senders stay under the rate limit).
			return fillSearch(ctx, s.base, launchPath, 60, aliceEmail, bobEmail)
		}),
	)
	alice.do("Search shows 50, then Load more shows the rest",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#search-input").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#search-input"), "zebrafish"),
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
				// Until all 60 are indexed: a page of 50 "of 60".
				more, err := chromedp.Evaluate[bool](`!document.querySelector("#search-more").hidden &&
					document.querySelector("#search-status").textContent === "50 of 60 results"`)(ctx, tg)
				if err != nil {
					return err
				}
				if n == 50 && more {
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(300 * time.Millisecond):
				}
			}
		}),
	)
	alice.do("Load more shows the rest",
		chromedp.Click(chromedp.CSS("#search-more")),
		waitJS(`document.querySelectorAll("#search-results .hit").length === 60 && document.querySelector("#search-more").hidden`),
		waitJS(`document.querySelector("#search-status").textContent === "60 results"`),
		chromedp.Click(chromedp.CSS("#search-close")),
	)

	// ---- installable
	alice.do("The app is installable: a manifest and a service worker for the shell",
		waitJS(`document.querySelector('link[rel="manifest"]')?.href.endsWith("/manifest.webmanifest")`),
		waitJS(`!!navigator.serviceWorker.controller`),
	)
	alice.labelled("the open chat")

	// ---- the phone: list -> chat -> back, in Chinese
	bob.do("Bob chooses Chinese; the page reloads in Chinese, on the same chat",
		// As a user picks it: the value, then one change event (the page reloads).
		chromedp.Evaluate[chromedp.Void](`setTimeout(() => { const l = document.querySelector("#account .lang-select"); l.value = "zh-CN"; l.dispatchEvent(new Event("change")); }, 10)`),
		waitAcrossLoad(`document.documentElement.lang === "zh-CN" && !!document.querySelector("#chat-view")`),
		chromedp.WaitVisible(chromedp.CSS("#chat-view")),
		waitJS(`document.querySelector("#signout-btn").textContent === "退出登录" && document.querySelector("#composer-input").placeholder === "输入消息…"`),
		waitJS(`document.querySelector("#messages .day-sep")?.textContent === "今天"`),
	)
	bob.labelled("the Chinese chat")
	bob.do("A phone (390x844): the list fills the screen",
		chromedp.EmulateViewport(390, 844),
		chromedp.Click(chromedp.CSS("#back-btn")),
		waitJS(`location.pathname === "/" && document.querySelector("#sidebar").offsetParent !== null && document.querySelector("#pane").offsetParent === null`),
		waitJS(`document.querySelector(".topbar").getBoundingClientRect().height < 60`),
	)
	bob.do("List -> chat: the conversation fills the screen, with a back button",
		chromedp.Click(`//ul[@id="chat-list"]//button[contains(., "launch")]`),
		waitJS(`document.querySelector("#chat-title").textContent === "launch"`),
		waitJS(`document.querySelector("#sidebar").offsetParent === null && document.querySelector("#back-btn").offsetParent !== null`),
		waitJS(`document.querySelector("#message-scroll").getBoundingClientRect().height > 844 * 0.6`),
	)
	bob.do("On the phone a thread fills the screen, and its back button returns to the chat",
		chromedp.Click(chromedp.CSS("#messages li.msg:has(img.thumb) .thread-summary")),
		chromedp.WaitVisible(chromedp.CSS("#thread-panel")),
		waitJS(`document.querySelector("#pane").offsetParent === null && document.querySelector("#thread-panel").getBoundingClientRect().width === 390`),
		waitJS(`document.querySelector("#thread-count").textContent === "2 条回复" && document.querySelector("#thread-back").offsetParent !== null`),
	)
	bob.labelled("the phone thread, in Chinese")
	bob.do("Back from the thread",
		chromedp.Click(chromedp.CSS("#thread-back")),
		chromedp.WaitNotVisible(chromedp.CSS("#thread-panel")),
		waitJS(`document.querySelector("#message-scroll").offsetParent !== null`),
	)
	bob.do("The phone view of a linked message",
		chromedp.Navigate(s.base+launchPath+"/messages/3"),
		waitJS(`document.querySelector('#messages li.msg.found')?.dataset.seq === "3"`),
		// The picture without the passing highlight.
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#messages li.msg.found").classList.remove("found")`),
	)
	h.readmeShot(bob, "web-phone.png")
	bob.do("Back returns to the list and to /",
		chromedp.Click(chromedp.CSS("#back-btn")),
		waitJS(`location.pathname === "/" && document.querySelector("#sidebar").offsetParent !== null`),
		waitJS(`document.activeElement?.closest?.("#chat-list") !== null`),
	)
	bob.do("The phone menu holds the account controls",
		chromedp.Click(chromedp.CSS("#menu-btn")),
		waitJS(`document.querySelector("#signout-btn").offsetParent !== null && document.querySelector("#menu-btn").getAttribute("aria-expanded") === "true"`),
	)
	bob.labelled("the phone list with its menu")
	bob.do("The skip link goes to the chat list on the phone list screen",
		chromedp.Click(chromedp.CSS("#menu-btn")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#skip-link").click()`),
		waitJS(`document.activeElement?.closest?.("#chat-list") !== null`),
	)

	bob2.do("Signing out in one tab signs out the other",
		chromedp.Click(chromedp.CSS("#signout-btn")),
		chromedp.WaitVisible(chromedp.CSS("#auth-view")),
	)
	bob.do("Bob's first tab is signed out too", chromedp.WaitVisible(chromedp.CSS("#auth-view")))

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

// pressKey focuses an element and presses one key there (Enter, Delete, ...).
func pressKey(sel, key string) chromedp.Action[chromedp.Void] {
	codes := map[string]int64{"Enter": 13, "Delete": 46, "Escape": 27, "ArrowUp": 38, "ArrowDown": 40}
	return chromedp.Steps(chromedp.Focus(chromedp.CSS(sel)), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeRawKeyDown, Key: key, Code: key,
			WindowsVirtualKeyCode: codes[key], NativeVirtualKeyCode: codes[key]}
		if key == "Enter" { // a key with text: buttons click on it
			down.Type, down.Text, down.UnmodifiedText = input.DispatchKeyEventTypeKeyDown, "\r", "\r"
		}
		if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := down
		up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
		_, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, up)
		return err
	}))
}

// unlabelledJS lists the controls of the page that have no accessible
// name: no aria-label, no aria-labelledby, no <label>, no text, no title.
const unlabelledJS = `(() => {
	const named = (e) => {
		if ((e.getAttribute("aria-label") ?? "").trim()) return true;
		const by = e.getAttribute("aria-labelledby");
		if (by && by.split(/\s+/).some((id) => (document.getElementById(id)?.textContent ?? "").trim())) return true;
		if (e.labels && [...e.labels].some((l) => l.textContent.trim())) return true;
		if (!["INPUT", "SELECT", "TEXTAREA"].includes(e.tagName) && e.textContent.trim()) return true;
		return !!(e.getAttribute("title") ?? "").trim();
	};
	return [...document.querySelectorAll("button, input, select, textarea, a[href], [role=menuitem], [tabindex]:not([tabindex='-1'])")]
		.filter((e) => e.type !== "hidden" && !named(e))
		.map((e) => e.outerHTML.slice(0, 120));
})()`

// labelled fails the test when a control of b's page has no name.
func (b *browser) labelled(where string) {
	b.h.t.Helper()
	var bad []string
	b.do("every control labelled: "+where, into(chromedp.Evaluate[[]string](unlabelledJS), &bad))
	if len(bad) > 0 {
		b.h.fatalf("%s: controls without a label:\n%s", where, strings.Join(bad, "\n"))
	}
}

// readmeShot saves a screenshot of b's page as docs/<name> for the README
// when FECHATTER_E2E_README_SHOTS=1 (the committed ones are made so).
func (h *browsers) readmeShot(b *browser, name string) {
	h.t.Helper()
	if os.Getenv("FECHATTER_E2E_README_SHOTS") == "" {
		return
	}
	var png []byte
	b.do("screenshot "+name, into(chromedp.CaptureScreenshot(), &png))
	if err := os.MkdirAll(filepath.Join("..", "docs"), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "docs", name), png, 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// fillSearch signs the two users in over the API and sends n messages
// with the word "zebrafish" into the chat at chatPath (/chats/<id>),
// alternating senders to stay under the per-user rate limit.
func fillSearch(ctx context.Context, base, chatPath string, n int, emails ...string) error {
	post := func(path, token string, body any, out any) (int, http.Header, error) {
		raw, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/v1"+path, strings.NewReader(string(raw)))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		if out != nil && resp.StatusCode < 300 {
			err = json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode, resp.Header, err
	}
	var tokens []string
	for _, e := range emails {
		var a struct {
			AccessToken string `json:"access_token"`
		}
		if st, _, err := post("/auth/signin", "", map[string]string{"email": e, "password": "correct-horse"}, &a); err != nil || st != 200 {
			return fmt.Errorf("sign in %s: %d %v", e, st, err)
		}
		tokens = append(tokens, a.AccessToken)
	}
	for i := 0; i < n; {
		st, hdr, err := post(chatPath+"/messages", tokens[i%len(tokens)],
			map[string]string{"content": fmt.Sprintf("zebrafish number %d", i), "idempotency_key": fmt.Sprintf("zebra-%d", i)}, nil)
		switch {
		case err != nil:
			return err
		case st == 429: // wait as long as the server asks, then the same key again
			wait, _ := time.ParseDuration(hdr.Get("Retry-After") + "s")
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(max(wait, 100*time.Millisecond)):
			}
		case st != 201 && st != 200:
			return fmt.Errorf("send %d: status %d", i, st)
		default:
			i++
		}
	}
	return nil
}

// waitAcrossLoad waits until the expression is truthy in a page that is
// being reloaded: errors of the old document going away are retried.
func waitAcrossLoad(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, tg)
			if err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %w (last error %v)", expr, ctx.Err(), err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// picturePNG draws a small picture for the uploads: a sunset (a sky from
// orange to violet, a sun, a sea), or a face-like avatar.
func picturePNG(t *testing.T, w, h int, face bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			k := float64(y) / float64(h)
			c := color.NRGBA{R: uint8(250 - 120*k), G: uint8(160 - 110*k), B: uint8(60 + 120*k), A: 255}
			dx, dy := float64(x-w/2), float64(y-h*3/5)
			if face {
				c = color.NRGBA{R: 92, G: 124, B: 250, A: 255}
				dy = float64(y - h/2)
				if r := dx*dx + dy*dy; r < float64(w*w)/9 {
					c = color.NRGBA{R: 255, G: 212, B: 59, A: 255}
				}
			} else if dx*dx+dy*dy < float64(h*h)/36 {
				c = color.NRGBA{R: 255, G: 236, B: 153, A: 255}
			} else if y > h*3/5 {
				c = color.NRGBA{R: 40, G: uint8(60 + 40*k), B: 120, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
