package ports

import (
	"context"
	"io"
	"time"

	"github.com/fechatter/fechatter/domain/file"
)

// FileStore keeps the bytes of uploaded files under opaque keys: a
// directory on disk, or an S3-compatible bucket.
type FileStore interface {
	// Put stores what r yields under key, streaming (never holding the
	// whole body in memory); size is the byte count when known, else -1.
	// It returns the bytes written. A failed or cancelled Put leaves
	// nothing under key. r's error is returned as it is (wrapped).
	Put(ctx context.Context, key string, r io.Reader, size int64) (int64, error)
	// Open reads length bytes from offset (length -1: to the end).
	// errs.NotFound when nothing is stored under key.
	Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Delete removes key; an absent key is not an error.
	Delete(ctx context.Context, key string) error
}

// FileRepository stores file metadata and the per-workspace storage use.
type FileRepository interface {
	// Add stores a new file and sets its id, counting its bytes (and its
	// thumbnail's) against the workspace quota in the same step:
	// errs.TooLarge when quota would be exceeded.
	Add(ctx context.Context, f *file.File, quota int64) error
	// ByID loads a file; errs.NotFound. Inside a transaction the row is
	// locked until it ends.
	ByID(ctx context.Context, id int64) (*file.File, error)
	// Attach saves the message and chat of attached files.
	Attach(ctx context.Context, files []*file.File) error
	// ByMessage lists the live files of a message.
	ByMessage(ctx context.Context, messageID int64) ([]*file.File, error)
	// MarkDeleted marks files deleted and gives their bytes back to the
	// workspace quota.
	MarkDeleted(ctx context.Context, files []*file.File) error
	// Orphans lists up to limit live files created before cutoff that are
	// attached to no message and are nobody's avatar.
	Orphans(ctx context.Context, cutoff time.Time, limit int) ([]*file.File, error)
	// StorageUsed returns the bytes a workspace's live files take.
	StorageUsed(ctx context.Context, workspaceID int64) (int64, error)
	// CanRead reports whether user may read the file: its uploader, a
	// member of the chat its live message is in, or (avatars) anyone of
	// the workspace it is the avatar of a user of.
	CanRead(ctx context.Context, f *file.File, userID int64) (bool, error)
}

// ImageInfo is what an image inspector learnt of an image.
type ImageInfo struct {
	Width, Height int
	// Thumbnail is a JPEG or PNG of at most file.ThumbnailMaxSide pixels
	// on its longer side; nil when the image could not be decoded whole.
	Thumbnail     []byte
	ThumbnailType string
}

// FileInspector tells what uploaded bytes are.
type FileInspector interface {
	// Sniff names the content type of a file from its first bytes (up to
	// 512), never from what the client said.
	Sniff(head []byte) string
	// Image measures an image and makes its thumbnail; errs.Invalid when r
	// is not a decodable image of a known format.
	Image(ctx context.Context, r io.Reader) (ImageInfo, error)
}
