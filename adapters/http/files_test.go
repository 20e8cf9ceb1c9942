package http_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/adapters/http/contract"
	"github.com/fechatter/fechatter/adapters/imaging/imagingtest"
	"github.com/fechatter/fechatter/adapters/memory"
	"github.com/fechatter/fechatter/adapters/memory/memapp"
	"github.com/fechatter/fechatter/api"
)

// upload posts body as the multipart part "file" named name.
func (h *harness) upload(token, name string, body []byte) reply {
	h.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("file", name)
	_, _ = w.Write(body)
	_ = mw.Close()
	sent := buf.Bytes()
	req := httptest.NewRequest("POST", "/api/v1/files", bytes.NewReader(sent))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := h.srv.Fiber().Test(req, -1)
	if err != nil {
		h.t.Fatalf("upload: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := contract.Default(h.t).Exchange(req, sent, resp.StatusCode, resp.Header, raw); err != nil {
		h.t.Errorf("contract: %v", err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, raw: raw}
}

// The signed links of a file over REST: they work without a token while
// the signature is valid, answer 404 once expired (1 h) or when exp, sig
// or the route is changed, and GET /files/{id} gives fresh ones.
func TestSignedFileLinksExpireAndRefuseTampering(t *testing.T) {
	t.Parallel()
	clock := memory.NewFakeClock(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	h := newHarness(t, func(o *memapp.Options) { o.Clock, o.AccessTTL = clock, 48*time.Hour })
	alice, _ := h.team(0)
	r := h.upload(alice.Token, "pic.png", imagingtest.PNG(t, 30, 20))
	if r.status != 201 {
		t.Fatalf("upload = %d %s", r.status, r.raw)
	}
	var f api.File
	r.json(t, &f)
	if f.ThumbnailURL == nil {
		t.Fatalf("an image without thumbnail_url: %s", r.raw)
	}
	get := func(link string) int {
		t.Helper()
		return h.do("GET", link, "", nil).status
	}
	if s := get(f.URL); s != 200 {
		t.Fatalf("fresh content link = %d", s)
	}
	if s := get(*f.ThumbnailURL); s != 200 {
		t.Fatalf("fresh thumbnail link = %d", s)
	}
	tamper := func(link, key string, change func(string) string) string {
		u, _ := url.Parse(link)
		q := u.Query()
		q.Set(key, change(q.Get(key)))
		u.RawQuery = q.Encode()
		return u.String()
	}
	for name, link := range map[string]string{
		"exp moved on":         tamper(f.URL, "exp", func(s string) string { return s + "0" }),
		"sig changed":          tamper(f.URL, "sig", func(s string) string { return "A" + s[1:] }),
		"sig dropped":          tamper(f.URL, "sig", func(string) string { return "" }),
		"another file's id":    strings.Replace(f.URL, fmt.Sprintf("/files/%d/", f.ID), fmt.Sprintf("/files/%d/", f.ID+1), 1),
		"content sig on thumb": strings.Replace(f.URL, "/content?", "/thumbnail?", 1),
	} {
		if s := get(link); s != 404 {
			t.Errorf("%s: %s = %d, want 404", name, link, s)
		}
	}

	clock.Advance(time.Hour + time.Second)
	if s := get(f.URL); s != 404 {
		t.Errorf("expired content link = %d, want 404", s)
	}
	if s := get(*f.ThumbnailURL); s != 404 {
		t.Errorf("expired thumbnail link = %d, want 404", s)
	}
	var fresh api.File
	h.must(200, "GET", fmt.Sprintf("/api/v1/files/%d", f.ID), alice.Token, nil, &fresh)
	if fresh.URL == f.URL {
		t.Fatalf("GET /files/%d gave the expired link again", f.ID)
	}
	if s := get(fresh.URL); s != 200 {
		t.Errorf("fresh link after expiry = %d, want 200", s)
	}
}
