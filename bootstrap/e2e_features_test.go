package bootstrap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/fechatter/fechatter/adapters/http/contract"
	"github.com/fechatter/fechatter/adapters/imaging/imagingtest"
	"github.com/fechatter/fechatter/api"
	"github.com/fechatter/fechatter/ports/porttest"
)

// The API objects as the tests read them (one definition, package api).
type (
	fileJSON     = api.File
	reactionJSON = api.Reaction
)

// upload posts body as the part "file" named name, streamed through a pipe
// (so neither side holds it whole), and returns the status and answer.
func (s server) upload(t *testing.T, token, name string, body io.Reader) (int, []byte) {
	t.Helper()
	return s.uploadWith(t, http.DefaultClient, token, name, body)
}

// checked is an HTTP client that validates every exchange against the
// OpenAPI document (it reads bodies whole: small files only).
func checked(t *testing.T) *http.Client {
	return &http.Client{Transport: contract.Default(t).Transport(t, nil)}
}

func (s server) uploadWith(t *testing.T, hc *http.Client, token, name string, body io.Reader) (int, []byte) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		if hc == http.DefaultClient { // the document's validator knows only the part "file"
			_ = mw.WriteField("note", "parts before file are skipped")
		}
		w, err := mw.CreateFormFile("file", name)
		if err == nil {
			_, err = io.Copy(w, body)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest("POST", s.base+"/api/v1/files", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (s server) get(t *testing.T, path string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.base+path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := checked(t).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// outsider signs up someone in a workspace of their own.
func (s server) outsider(t *testing.T) session {
	t.Helper()
	var o session
	s.call(t, 201, "POST", "/api/v1/auth/signup", "", map[string]any{"email": porttest.Unique("o") + "@x.test",
		"password": "correct-horse", "fullname": "Oscar", "workspace": porttest.Unique("ows-")}, &o)
	return o
}

// TestFilesOnARealServer uploads, reads, ranges and protects files on a
// real server (Postgres, the directory file store).
func TestFilesOnARealServer(t *testing.T) {
	t.Parallel()
	s := startServer(t, "FECHATTER_LIMITS_FILE_MAX_BYTES=1048576", "FECHATTER_LIMITS_WORKSPACE_STORAGE_BYTES=1000000")
	alice, bob := s.pair(t)
	oscar := s.outsider(t)

	// An image: sniffed, measured, thumbnailed; the client's name is cleaned.
	pic := imagingtest.PNG(t, 1000, 500)
	status, raw := s.uploadWith(t, checked(t), alice.AccessToken, "../../secret/cat.jpg", bytes.NewReader(pic))
	if status != 201 {
		t.Fatalf("upload image = %d %s", status, raw)
	}
	var img fileJSON
	if err := json.Unmarshal(raw, &img); err != nil {
		t.Fatal(err)
	}
	if img.ContentType != "image/png" || img.Name != "cat.jpg" || img.Size != int64(len(pic)) || img.Width == nil || *img.Width != 1000 ||
		*img.Height != 500 || img.ThumbnailURL == nil || len(img.SHA256) != 64 || img.UploaderID != alice.User.ID {
		t.Fatalf("image file = %s", raw)
	}
	// The bytes through the signed link, without a token; a range.
	resp, body := s.get(t, img.URL, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, pic) || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline") || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("content = %d %v (%d bytes)", resp.StatusCode, resp.Header, len(body))
	}
	resp, body = s.get(t, img.URL, map[string]string{"Range": "bytes=10-19"})
	if resp.StatusCode != 206 || !bytes.Equal(body, pic[10:20]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 10-19/%d", len(pic)) {
		t.Fatalf("range = %d %q %x", resp.StatusCode, resp.Header.Get("Content-Range"), body)
	}
	resp, body = s.get(t, img.URL, map[string]string{"Range": "bytes=-4"})
	if resp.StatusCode != 206 || !bytes.Equal(body, pic[len(pic)-4:]) {
		t.Fatalf("suffix range = %d %x", resp.StatusCode, body)
	}
	if resp, _ := s.get(t, img.URL, map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(pic))}); resp.StatusCode != 416 {
		t.Fatalf("unsatisfiable range = %d", resp.StatusCode)
	}
	// The thumbnail: a PNG of at most 360 px.
	resp, body = s.get(t, *img.ThumbnailURL, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("thumbnail = %d %s", resp.StatusCode, body)
	}
	th, err := png.Decode(bytes.NewReader(body))
	if err != nil || th.Bounds().Dx() != 360 || th.Bounds().Dy() != 180 {
		t.Fatalf("thumbnail %v %v", th.Bounds(), err)
	}
	// Tampered or unsigned links are 404.
	u, _ := url.Parse(img.URL)
	q := u.Query()
	exp := q.Get("exp")
	q.Set("exp", exp+"0")
	u.RawQuery = q.Encode()
	if resp, _ := s.get(t, u.String(), nil); resp.StatusCode != 404 {
		t.Fatalf("tampered exp = %d", resp.StatusCode)
	}
	q.Set("exp", exp)
	q.Set("sig", strings.Repeat("A", 43))
	u.RawQuery = q.Encode()
	if resp, _ := s.get(t, u.String(), nil); resp.StatusCode != 404 {
		t.Fatalf("tampered sig = %d", resp.StatusCode)
	}
	if resp, _ := s.get(t, fmt.Sprintf("/api/v1/files/%d/content", img.ID), nil); resp.StatusCode != 404 {
		t.Fatalf("unsigned = %d", resp.StatusCode)
	}
	// Metadata: the uploader sees it; others do not (it is attached nowhere).
	var again fileJSON
	s.call(t, 200, "GET", fmt.Sprintf("/api/v1/files/%d", img.ID), alice.AccessToken, nil, &again)
	if again.ID != img.ID || again.URL == "" {
		t.Fatalf("get file = %+v", again)
	}
	s.call(t, 404, "GET", fmt.Sprintf("/api/v1/files/%d", img.ID), bob.AccessToken, nil, nil)
	s.call(t, 404, "GET", fmt.Sprintf("/api/v1/files/%d", img.ID), oscar.AccessToken, nil, nil)
	s.call(t, 404, "GET", "/api/v1/files/999999999", alice.AccessToken, nil, nil)

	// A text file: no size, no thumbnail, downloaded as an attachment even
	// if it calls itself HTML.
	status, raw = s.upload(t, bob.AccessToken, "page.html", strings.NewReader("<html><script>alert(1)</script></html>"))
	var doc fileJSON
	if status != 201 || json.Unmarshal(raw, &doc) != nil || doc.ThumbnailURL != nil || doc.Width != nil || !strings.HasPrefix(doc.ContentType, "text/html") {
		t.Fatalf("html upload = %d %s", status, raw)
	}
	resp, _ = s.get(t, doc.URL, nil)
	if !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("html served with %v", resp.Header)
	}
	thumbOfDoc := strings.Replace(doc.URL, "/content?", "/thumbnail?", 1)
	if resp, _ := s.get(t, thumbOfDoc, nil); resp.StatusCode != 404 {
		t.Fatalf("thumbnail of a non-image = %d", resp.StatusCode)
	}

	// Bad uploads change nothing: too large, empty, no file part, not multipart.
	if status, raw := s.upload(t, alice.AccessToken, "big.bin", io.LimitReader(zeros{}, 2<<20)); status != 413 || !strings.Contains(string(raw), "payload_too_large") {
		t.Fatalf("too large = %d %s", status, raw)
	}
	if status, raw := s.upload(t, alice.AccessToken, "empty.txt", strings.NewReader("")); status != 400 {
		t.Fatalf("empty = %d %s", status, raw)
	}
	s.call(t, 400, "POST", "/api/v1/files", alice.AccessToken, map[string]any{"file": "x"}, nil)
	// The quota (1,000,000 bytes for the workspace): 600 KB more fit, twice not.
	if status, raw := s.upload(t, alice.AccessToken, "more.bin", io.LimitReader(zeros{}, 600_000)); status != 201 {
		t.Fatalf("within quota = %d %s", status, raw)
	}
	if status, raw := s.upload(t, alice.AccessToken, "more.bin", io.LimitReader(zeros{}, 600_000)); status != 413 || !strings.Contains(string(raw), "quota") {
		t.Fatalf("over quota = %d %s", status, raw)
	}
	// Another workspace has its own quota.
	if status, raw := s.upload(t, oscar.AccessToken, "more.bin", io.LimitReader(zeros{}, 600_000)); status != 201 {
		t.Fatalf("other workspace = %d %s", status, raw)
	}
	// Other routes keep their 64 KiB limit.
	s.call(t, 413, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "group", "name": strings.Repeat("x", 70_000)}, nil)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestUploadIsStreamed uploads 20 MiB and checks the process allocated far
// less than that meanwhile: the body is never held whole in memory (the
// server runs in this process; the test streams from a pipe).
func TestUploadIsStreamed(t *testing.T) {
	s := startServer(t)
	alice, _ := s.pair(t)
	// Warm up connections and code paths.
	if status, raw := s.upload(t, alice.AccessToken, "warm.bin", io.LimitReader(zeros{}, 1<<20)); status != 201 {
		t.Fatalf("warm-up = %d %s", status, raw)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	status, raw := s.upload(t, alice.AccessToken, "big.bin", io.LimitReader(zeros{}, 20<<20))
	runtime.ReadMemStats(&after)
	if status != 201 {
		t.Fatalf("upload = %d %s", status, raw)
	}
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("20 MiB upload: %.2f MiB allocated in total by the process meanwhile", float64(grew)/(1<<20))
	if grew > 5<<20 {
		t.Fatalf("a 20 MiB upload allocated %d bytes: is it buffered?", grew)
	}
}

// TestReactionsOnARealServer: reactions over REST with the WebSocket
// event, the limits and the non-member's 404.
func TestReactionsOnARealServer(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	alice, bob := s.pair(t)
	oscar := s.outsider(t)
	var chat struct{ ID int64 }
	s.call(t, 201, "POST", "/api/v1/chats", alice.AccessToken, map[string]any{"type": "group", "name": "r", "member_ids": []int64{bob.User.ID}}, &chat)
	var msg struct {
		ID  int64
		Seq int64
	}
	s.call(t, 201, "POST", fmt.Sprintf("/api/v1/chats/%d/messages", chat.ID), alice.AccessToken, map[string]any{"content": "ship it"}, &msg)

	wsURL := strings.Replace(s.base, "http://", "ws://", 1) + "/api/v1/ws?platform=test&access_token=" + alice.AccessToken
	conn := dialFeatureWS(t, wsURL)
	waitFrame(t, conn, "hello")

	path := func(emoji string) string {
		return fmt.Sprintf("/api/v1/chats/%d/messages/%d/reactions/%s", chat.ID, msg.Seq, url.PathEscape(emoji))
	}
	var got struct{ Reactions []reactionJSON }
	s.call(t, 200, "PUT", path("👍"), bob.AccessToken, nil, &got)
	if len(got.Reactions) != 1 || got.Reactions[0].Count != 1 || got.Reactions[0].UserIDs[0] != bob.User.ID {
		t.Fatalf("after bob's 👍: %+v", got)
	}
	f := waitFrame(t, conn, "reaction.updated")
	var ev struct {
		ChatID    int64  `json:"chat_id"`
		Seq       int64  `json:"seq"`
		MessageID int64  `json:"message_id"`
		UserID    int64  `json:"user_id"`
		Emoji     string `json:"emoji"`
		Added     bool   `json:"added"`
		Count     int    `json:"count"`
	}
	if json.Unmarshal(f, &ev) != nil || ev.ChatID != chat.ID || ev.Seq != msg.Seq || ev.MessageID != msg.ID || ev.UserID != bob.User.ID ||
		ev.Emoji != "👍" || !ev.Added || ev.Count != 1 {
		t.Fatalf("reaction.updated = %s", f)
	}
	s.call(t, 200, "PUT", path("👍"), bob.AccessToken, nil, &got) // idempotent
	s.call(t, 200, "PUT", path(":tada:"), alice.AccessToken, nil, &got)
	s.call(t, 200, "PUT", path("👍"), alice.AccessToken, nil, &got)
	if len(got.Reactions) != 2 || got.Reactions[0].Emoji != "👍" || got.Reactions[0].Count != 2 || got.Reactions[1].Emoji != ":tada:" {
		t.Fatalf("reactions = %+v", got)
	}
	// Bad emoji, non-members, missing messages: nothing changes.
	s.call(t, 400, "PUT", path("hello"), bob.AccessToken, nil, nil)
	s.call(t, 400, "PUT", path("👍👍"), bob.AccessToken, nil, nil)
	s.call(t, 404, "PUT", path("👍"), oscar.AccessToken, nil, nil)
	s.call(t, 404, "PUT", fmt.Sprintf("/api/v1/chats/%d/messages/999/reactions/%s", chat.ID, url.PathEscape("👍")), bob.AccessToken, nil, nil)
	s.call(t, 200, "DELETE", path("👍"), bob.AccessToken, nil, &got)
	s.call(t, 200, "DELETE", path("👍"), bob.AccessToken, nil, &got) // idempotent
	if got.Reactions[0].Count != 1 || got.Reactions[0].UserIDs[0] != alice.User.ID {
		t.Fatalf("after removal: %+v", got)
	}
	// The message carries them; seq and unread are untouched.
	var m struct {
		Reactions []reactionJSON `json:"reactions"`
		EditedAt  *string        `json:"edited_at"`
	}
	s.call(t, 200, "GET", fmt.Sprintf("/api/v1/chats/%d/messages/%d", chat.ID, msg.Seq), bob.AccessToken, nil, &m)
	if len(m.Reactions) != 2 || m.EditedAt != nil {
		t.Fatalf("message = %+v", m)
	}
	// At most 20 distinct emoji.
	for i := 2; i < 20; i++ {
		s.call(t, 200, "PUT", path(fmt.Sprintf(":e%d:", i)), bob.AccessToken, nil, nil)
	}
	s.call(t, 409, "PUT", path(":one_too_many:"), bob.AccessToken, nil, nil)
	// A deleted message takes none and loses its own.
	s.call(t, 204, "DELETE", fmt.Sprintf("/api/v1/chats/%d/messages/%d", chat.ID, msg.Seq), alice.AccessToken, nil, nil)
	s.call(t, 409, "PUT", path("👍"), bob.AccessToken, nil, nil)
	s.call(t, 200, "GET", fmt.Sprintf("/api/v1/chats/%d/messages/%d", chat.ID, msg.Seq), bob.AccessToken, nil, &m)
	if len(m.Reactions) != 0 {
		t.Fatalf("deleted message keeps %+v", m.Reactions)
	}
}

// waitFrame reads frames until one of type typ and returns its data.
func waitFrame(t *testing.T, c *websocket.Conn, typ string) json.RawMessage {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_ = c.SetReadDeadline(deadline)
		var f struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := c.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if f.Type == typ {
			raw, _ := json.Marshal(f)
			if err := contract.Default(t).ServerFrame(raw); err != nil {
				t.Errorf("contract: %v", err)
			}
			return f.Data
		}
	}
}

func dialFeatureWS(t *testing.T, u string) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
