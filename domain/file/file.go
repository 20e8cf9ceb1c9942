// Package file holds the File aggregate: an uploaded file's metadata, who
// may read it, and the rules for attaching it to one message.
package file

import (
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fechatter/fechatter/domain/errs"
)

// Limits.
const (
	MaxNameBytes       = 255
	MaxAttachments     = 10
	DefaultMaxBytes    = 25 << 20
	DefaultQuotaBytes  = 10 << 30
	ThumbnailMaxSide   = 360
	OrphanAfter        = 24 * time.Hour
	DefaultContentType = "application/octet-stream"
)

// SanitizeName keeps the client's file name without path parts and control
// characters, trimmed to 255 bytes at a character boundary; "file" when
// nothing is left.
func SanitizeName(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base("/" + name)
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || r >= 0xD800 && r <= 0xDFFF {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "." || name == ".." || name == "/" {
		name = ""
	}
	for len(name) > MaxNameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" {
		return "file"
	}
	return name
}

// Inline reports whether a file of this content type is shown in the
// browser (images, audio, video, PDF) rather than downloaded.
func Inline(contentType string) bool {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.TrimSpace(ct)
	switch {
	case strings.HasPrefix(ct, "image/"), strings.HasPrefix(ct, "audio/"), strings.HasPrefix(ct, "video/"), ct == "application/pdf":
		// SVG may carry script; it is downloaded, never shown inline.
		return ct != "image/svg+xml"
	}
	return false
}

// IsImage reports whether the content type is a raster image the server
// measures and thumbnails.
func IsImage(contentType string) bool {
	switch contentType {
	case "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp":
		return true
	}
	return false
}

// File is an uploaded file.
type File struct {
	id          int64
	workspaceID int64
	uploaderID  int64
	name        string
	contentType string
	size        int64
	sha256      string
	width       int
	height      int
	key         string // where the bytes are in the file store
	thumbKey    string // "" without thumbnail
	thumbType   string
	thumbSize   int64
	messageID   int64 // 0 while not attached
	chatID      int64
	createdAt   time.Time
	deletedAt   time.Time
}

// Upload describes the stored bytes of a new file.
type Upload struct {
	WorkspaceID, UploaderID int64
	Name, ContentType       string
	Size                    int64
	SHA256                  string
	Width, Height           int
	Key, ThumbKey           string
	ThumbType               string
	ThumbSize               int64
	CreatedAt               time.Time
}

// New builds a file from an upload; its id comes from storage.
func New(u Upload) (*File, error) {
	if u.WorkspaceID <= 0 || u.UploaderID <= 0 {
		return nil, errs.Invalidf("workspace and uploader are required")
	}
	if u.Size < 0 || u.Key == "" || len(u.SHA256) != 64 {
		return nil, errs.Invalidf("file has no stored bytes")
	}
	if u.ContentType == "" {
		u.ContentType = DefaultContentType
	}
	return &File{workspaceID: u.WorkspaceID, uploaderID: u.UploaderID, name: SanitizeName(u.Name),
		contentType: u.ContentType, size: u.Size, sha256: u.SHA256, width: u.Width, height: u.Height,
		key: u.Key, thumbKey: u.ThumbKey, thumbType: u.ThumbType, thumbSize: u.ThumbSize, createdAt: u.CreatedAt}, nil
}

// Stored is a file as storage keeps it.
type Stored struct {
	ID, MessageID, ChatID int64
	Upload
	DeletedAt time.Time
}

// UnmarshalFromDatabase rebuilds a file from storage.
func UnmarshalFromDatabase(s Stored) *File {
	return &File{id: s.ID, workspaceID: s.WorkspaceID, uploaderID: s.UploaderID, name: s.Name,
		contentType: s.ContentType, size: s.Size, sha256: s.SHA256, width: s.Width, height: s.Height,
		key: s.Key, thumbKey: s.ThumbKey, thumbType: s.ThumbType, thumbSize: s.ThumbSize, messageID: s.MessageID, chatID: s.ChatID,
		createdAt: s.CreatedAt, deletedAt: s.DeletedAt}
}

func (f *File) ID() int64            { return f.id }
func (f *File) WorkspaceID() int64   { return f.workspaceID }
func (f *File) UploaderID() int64    { return f.uploaderID }
func (f *File) Name() string         { return f.name }
func (f *File) ContentType() string  { return f.contentType }
func (f *File) Size() int64          { return f.size }
func (f *File) SHA256() string       { return f.sha256 }
func (f *File) Width() int           { return f.width }
func (f *File) Height() int          { return f.height }
func (f *File) Key() string          { return f.key }
func (f *File) ThumbKey() string     { return f.thumbKey }
func (f *File) ThumbType() string    { return f.thumbType }
func (f *File) ThumbSize() int64     { return f.thumbSize }
func (f *File) MessageID() int64     { return f.messageID }
func (f *File) ChatID() int64        { return f.chatID }
func (f *File) CreatedAt() time.Time { return f.createdAt }
func (f *File) DeletedAt() time.Time { return f.deletedAt }
func (f *File) Deleted() bool        { return !f.deletedAt.IsZero() }
func (f *File) Image() bool          { return f.width > 0 && f.height > 0 }

// Assign sets the id storage gave the file.
func (f *File) Assign(id int64) { f.id = id }

// AttachTo attaches the file to a message. Only its uploader may (anyone
// else does not see it: not found), and only once (conflict).
func (f *File) AttachTo(by, chatID, messageID int64) error {
	if f.uploaderID != by || f.Deleted() {
		return errs.NotFoundf("file %d not found", f.id)
	}
	if f.messageID != 0 {
		return errs.Conflictf("file %d is already attached to a message", f.id)
	}
	f.chatID, f.messageID = chatID, messageID
	return nil
}

// UsableAsAvatar tells whether user may take the file as their avatar: an
// image they uploaded.
func (f *File) UsableAsAvatar(by int64) error {
	if f.uploaderID != by || f.Deleted() {
		return errs.NotFoundf("file %d not found", f.id)
	}
	if !f.Image() || f.thumbKey == "" {
		return errs.Invalidf("avatar_file_id must name an image")
	}
	return nil
}

// Delete marks the file deleted: its bytes go, its links answer 404.
func (f *File) Delete(now time.Time) {
	if f.deletedAt.IsZero() {
		f.deletedAt = now
	}
}

// Orphan reports whether the file was never attached within OrphanAfter.
func (f *File) Orphan(now time.Time) bool {
	return f.messageID == 0 && !f.Deleted() && now.Sub(f.createdAt) >= OrphanAfter
}

// ValidateAttachmentIDs checks a send's attachment list: at most 10, each
// positive and named once (message.NewWithAttachments applies the same).
func ValidateAttachmentIDs(ids []int64) error {
	if len(ids) > MaxAttachments {
		return errs.Invalidf("attachment_ids takes at most %d files", MaxAttachments)
	}
	seen := make([]int64, 0, len(ids))
	for _, id := range ids {
		if id <= 0 {
			return errs.Invalidf("attachment_ids must be positive")
		}
		if slices.Contains(seen, id) {
			return errs.Invalidf("file %d is named twice in attachment_ids", id)
		}
		seen = append(seen, id)
	}
	return nil
}
