package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

//go:embed index.html *.js *.css *.svg *.png *.webmanifest
var files embed.FS

// contentSecurityPolicy allows only this origin's own scripts, styles and
// connections (REST and the WebSocket): nothing is fetched from elsewhere,
// and injected markup could not run scripts even if some slipped through.
// The service worker and the manifest come from this origin too.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	route       string
	body        []byte
	contentType string
	etag        string
}

// pageRoutes are the client's own addresses (history routing): each
// answers with index.html, and the page shows what the path names.
var pageRoutes = []string{"/chats/:id", "/chats/:id/messages/:seq", "/join/:code"}

// Mount serves the client on r: index.html at / and at the client's page
// routes, the other files at /<name>. Every answer carries a strong ETag
// and Cache-Control: no-cache, so browsers keep the files but revalidate
// them (304) and never run a stale app.js against a newer index.html after
// an upgrade.
func Mount(r fiber.Router) {
	for _, a := range assets() {
		r.Get(a.route, a.serve)
		if a.route == "/" {
			for _, p := range pageRoutes {
				r.Get(p, a.serve)
			}
		}
	}
}

func assets() []asset {
	var out []asset
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		a := asset{route: "/" + name, body: body, contentType: contentType(name),
			etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		if name == "index.html" {
			a.route = "/"
		}
		out = append(out, a)
		return nil
	})
	if err != nil {
		panic("web: embedded files unreadable: " + err.Error()) // cannot happen: the FS is compiled in
	}
	return out
}

// contentType names the type of an embedded file. JavaScript modules must
// be served as text/javascript or browsers refuse to run them.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".webmanifest":
		return "application/manifest+json"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func (a asset) serve(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderETag, a.etag)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	if a.route == "/" {
		c.Set(fiber.HeaderContentSecurityPolicy, contentSecurityPolicy)
		c.Set(fiber.HeaderXFrameOptions, "DENY")
	}
	if etagMatches(c.Get(fiber.HeaderIfNoneMatch), a.etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, a.contentType)
	return c.Send(a.body)
}

// etagMatches reports whether an If-None-Match header names etag (or *).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
