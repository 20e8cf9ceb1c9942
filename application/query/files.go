package query

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"strconv"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/file"
	"github.com/fechatter/fechatter/ports"
)

// Link kinds.
const (
	LinkContent   = "content"
	LinkThumbnail = "thumbnail"
)

// DefaultLinkTTL is how long a signed file link works.
const DefaultLinkTTL = time.Hour

// FileLinks signs and checks the expiring links of files: an HMAC-SHA256
// of kind, file id and expiry under a server secret, so a browser can load
// them in <img src> without a bearer token.
type FileLinks struct {
	key   []byte
	ttl   time.Duration
	clock ports.Clock
}

// NewFileLinks builds the signer; the key must be secret and the same on
// every instance.
func NewFileLinks(key []byte, ttl time.Duration, clock ports.Clock) FileLinks {
	if len(key) < 16 || clock == nil {
		panic("query: NewFileLinks needs a key of at least 16 bytes and a clock")
	}
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	return FileLinks{key: key, ttl: ttl, clock: clock}
}

func (l FileLinks) sign(kind string, id, exp int64) string {
	mac := hmac.New(sha256.New, l.key)
	mac.Write([]byte(kind + ":" + strconv.FormatInt(id, 10) + ":" + strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// URL returns the signed link of a file's content or thumbnail, relative
// to the server's origin.
func (l FileLinks) URL(kind string, id int64) string {
	exp := l.clock.Now().Add(l.ttl).Unix()
	return "/api/v1/files/" + strconv.FormatInt(id, 10) + "/" + kind +
		"?exp=" + strconv.FormatInt(exp, 10) + "&sig=" + l.sign(kind, id, exp)
}

// Check verifies a link's expiry and signature; not found otherwise, as
// if the file did not exist.
func (l FileLinks) Check(kind string, id int64, exp, sig string) error {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || id <= 0 || sig == "" || l.clock.Now().Unix() > e {
		return errs.NotFoundf("file %d not found", id)
	}
	want := l.sign(kind, id, e)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return errs.NotFoundf("file %d not found", id)
	}
	return nil
}

// Of shows a file with fresh links.
func (l FileLinks) Of(f *file.File) File {
	out := File{ID: f.ID(), WorkspaceID: f.WorkspaceID(), UploaderID: f.UploaderID(), Name: f.Name(),
		ContentType: f.ContentType(), Size: f.Size(), SHA256: f.SHA256(), CreatedAt: f.CreatedAt().UTC(),
		URL: l.URL(LinkContent, f.ID())}
	if f.Image() {
		w, h := f.Width(), f.Height()
		out.Width, out.Height = &w, &h
	}
	if f.ThumbKey() != "" {
		u := l.URL(LinkThumbnail, f.ID())
		out.ThumbnailURL = &u
	}
	return out
}

// Sign gives files read from a read model fresh links.
func (l FileLinks) Sign(files []File) {
	for i := range files {
		files[i].URL = l.URL(LinkContent, files[i].ID)
		if files[i].ThumbnailURL != nil {
			u := l.URL(LinkThumbnail, files[i].ID)
			files[i].ThumbnailURL = &u
		}
	}
}

// SignMessages gives the attachments of messages fresh links.
func (l FileLinks) SignMessages(msgs []Message) {
	for i := range msgs {
		l.Sign(msgs[i].Attachments)
	}
}

// GetFile answers GET /files/{id}.
type GetFile struct {
	files ports.FileRepository
	links FileLinks
}

// NewGetFile builds the handler.
func NewGetFile(files ports.FileRepository, links FileLinks) GetFile {
	mustHave(files)
	return GetFile{files: files, links: links}
}

// Handle shows a file to its uploader and to members of the chat where it
// is attached; anyone else: not found.
func (h GetFile) Handle(ctx context.Context, v Viewer, id int64) (File, error) {
	f, err := readableFile(ctx, h.files, v, id)
	if err != nil {
		return File{}, err
	}
	return h.links.Of(f), nil
}

func readableFile(ctx context.Context, files ports.FileRepository, v Viewer, id int64) (*file.File, error) {
	if id <= 0 {
		return nil, errs.NotFoundf("file %d not found", id)
	}
	f, err := files.ByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if f.Deleted() || f.WorkspaceID() != v.WorkspaceID {
		return nil, errs.NotFoundf("file %d not found", id)
	}
	ok, err := files.CanRead(ctx, f, v.UserID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errs.NotFoundf("file %d not found", id)
	}
	return f, nil
}

// FileContent is an open file body (or thumbnail) with what a download
// needs to describe it.
type FileContent struct {
	Name        string
	ContentType string
	Size        int64 // of the whole body
	SHA256      string
	Inline      bool
	Body        io.ReadCloser // nil for a HEAD or an empty range
}

// OpenFile answers GET /files/{id}/content and /thumbnail: a valid signed
// link is all the access it needs.
type OpenFile struct {
	files ports.FileRepository
	store ports.FileStore
	links FileLinks
}

// NewOpenFile builds the handler.
func NewOpenFile(files ports.FileRepository, store ports.FileStore, links FileLinks) OpenFile {
	mustHave(files, store)
	return OpenFile{files: files, store: store, links: links}
}

// Stat checks the link and describes what it points at.
func (h OpenFile) Stat(ctx context.Context, kind string, id int64, exp, sig string) (FileContent, *file.File, error) {
	if kind != LinkContent && kind != LinkThumbnail {
		return FileContent{}, nil, errs.NotFoundf("file %d not found", id)
	}
	if err := h.links.Check(kind, id, exp, sig); err != nil {
		return FileContent{}, nil, err
	}
	f, err := h.files.ByID(ctx, id)
	if err != nil {
		return FileContent{}, nil, err
	}
	if f.Deleted() || kind == LinkThumbnail && f.ThumbKey() == "" {
		return FileContent{}, nil, errs.NotFoundf("file %d not found", id)
	}
	c := FileContent{Name: f.Name(), ContentType: f.ContentType(), Size: f.Size(), SHA256: f.SHA256(), Inline: file.Inline(f.ContentType())}
	if kind == LinkThumbnail {
		c.ContentType, c.Inline, c.Size = f.ThumbType(), true, f.ThumbSize()
	}
	return c, f, nil
}

// Open opens length bytes from offset (length -1: to the end) of what Stat
// described.
func (h OpenFile) Open(ctx context.Context, kind string, f *file.File, offset, length int64) (io.ReadCloser, error) {
	key := f.Key()
	if kind == LinkThumbnail {
		key = f.ThumbKey()
	}
	return h.store.Open(ctx, key, offset, length)
}
