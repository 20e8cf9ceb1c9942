package command

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/file"
	"github.com/fechatter/fechatter/ports"
)

// FileLimits bound uploads.
type FileLimits struct {
	MaxBytes   int64 // one file; default 25 MiB
	QuotaBytes int64 // a workspace's files and thumbnails; default 10 GiB
}

// UploadFile stores a file streamed from Body.
type UploadFile struct {
	Actor Actor
	Name  string
	Body  io.Reader
}

// UploadFileHandler handles UploadFile: the body streams to the file store
// through a SHA-256 and a size limit (never whole in memory); its type is
// sniffed from the first bytes; images are measured and thumbnailed from
// the stored copy; the metadata row and the quota move in one step.
type UploadFileHandler struct {
	files   ports.FileRepository
	store   ports.FileStore
	inspect ports.FileInspector
	secrets ports.SecretGenerator
	links   query.FileLinks
	clock   ports.Clock
	limits  FileLimits
}

// NewUploadFileHandler builds the handler.
func NewUploadFileHandler(files ports.FileRepository, store ports.FileStore, inspect ports.FileInspector, secrets ports.SecretGenerator, links query.FileLinks, clock ports.Clock, limits FileLimits) UploadFileHandler {
	mustHave(map[string]any{"files": files, "store": store, "inspect": inspect, "secrets": secrets, "clock": clock})
	if limits.MaxBytes <= 0 {
		limits.MaxBytes = file.DefaultMaxBytes
	}
	if limits.QuotaBytes <= 0 {
		limits.QuotaBytes = file.DefaultQuotaBytes
	}
	return UploadFileHandler{files: files, store: store, inspect: inspect, secrets: secrets, links: links, clock: clock, limits: limits}
}

// MaxBytes is the largest file accepted.
func (h UploadFileHandler) MaxBytes() int64 { return h.limits.MaxBytes }

var errTooLarge = errors.New("file too large")

// meter hashes, counts and keeps the head of what passes through it, and
// fails once more than max bytes did.
type meter struct {
	r    io.Reader
	hash io.Writer
	n    int64
	max  int64
	head bytes.Buffer
}

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if n > 0 {
		m.hash.Write(p[:n])
		if room := 512 - m.head.Len(); room > 0 {
			m.head.Write(p[:min(n, room)])
		}
		m.n += int64(n)
		if m.n > m.max {
			return n, errTooLarge
		}
	}
	return n, err
}

// Handle uploads the file.
func (h UploadFileHandler) Handle(ctx context.Context, cmd UploadFile) (query.File, error) {
	used, err := h.files.StorageUsed(ctx, cmd.Actor.WorkspaceID)
	if err != nil {
		return query.File{}, err
	}
	if used >= h.limits.QuotaBytes {
		return query.File{}, errs.New(errs.TooLarge, "the workspace's storage quota of %d bytes is used up", h.limits.QuotaBytes)
	}
	key := fmt.Sprintf("ws%d/%s", cmd.Actor.WorkspaceID, h.secrets.Secret(18))
	hash := sha256.New()
	m := &meter{r: cmd.Body, hash: hash, max: h.limits.MaxBytes}
	n, err := h.store.Put(ctx, key, m, -1)
	if err != nil {
		_ = h.store.Delete(context.WithoutCancel(ctx), key)
		if errors.Is(err, errTooLarge) {
			return query.File{}, errs.New(errs.TooLarge, "file is larger than %d bytes", h.limits.MaxBytes)
		}
		var de *errs.Error
		if errors.As(err, &de) {
			return query.File{}, err
		}
		return query.File{}, errs.Wrap(errs.Unavailable, err, "store the file")
	}
	keep := false
	defer func() {
		if !keep {
			h.discard(ctx, key)
		}
	}()
	if n == 0 {
		return query.File{}, errs.Invalidf("file is empty")
	}
	up := file.Upload{WorkspaceID: cmd.Actor.WorkspaceID, UploaderID: cmd.Actor.UserID, Name: cmd.Name,
		ContentType: h.inspect.Sniff(m.head.Bytes()), Size: n, SHA256: hex.EncodeToString(hash.Sum(nil)),
		Key: key, CreatedAt: h.clock.Now().UTC()}
	if file.IsImage(up.ContentType) {
		if err := h.measure(ctx, &up); err != nil {
			return query.File{}, err
		}
	}
	f, err := file.New(up)
	if err != nil {
		return query.File{}, err
	}
	if err := h.files.Add(ctx, f, h.limits.QuotaBytes); err != nil {
		return query.File{}, err
	}
	keep = true
	return h.links.Of(f), nil
}

// measure reads the stored image back for its size and thumbnail; a file
// that only looks like an image stays a plain file.
func (h UploadFileHandler) measure(ctx context.Context, up *file.Upload) error {
	rc, err := h.store.Open(ctx, up.Key, 0, -1)
	if err != nil {
		return err
	}
	info, err := h.inspect.Image(ctx, rc)
	rc.Close()
	if err != nil {
		return nil
	}
	up.Width, up.Height = info.Width, info.Height
	if info.Thumbnail == nil {
		return nil
	}
	thumbKey := up.Key + ".thumb"
	if _, err := h.store.Put(ctx, thumbKey, bytes.NewReader(info.Thumbnail), int64(len(info.Thumbnail))); err != nil {
		return errs.Wrap(errs.Unavailable, err, "store the thumbnail")
	}
	up.ThumbKey, up.ThumbType, up.ThumbSize = thumbKey, info.ThumbnailType, int64(len(info.Thumbnail))
	return nil
}

func (h UploadFileHandler) discard(ctx context.Context, key string) {
	ctx = context.WithoutCancel(ctx)
	_ = h.store.Delete(ctx, key)
	_ = h.store.Delete(ctx, key+".thumb")
}
