package file_test

import (
	"strings"
	"testing"
	"time"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/file"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func TestSanitizeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{"C:\\Users\\bob\\photo.jpg", "photo.jpg"},
		{"dir/sub/", "sub"},
		{"a\x00b\x1fc\x7f.txt", "abc.txt"},
		{"line\nbreak\r.txt", "linebreak.txt"},
		{"  spaced  ", "spaced"},
		{"", "file"},
		{"..", "file"},
		{"/", "file"},
		{"\x01\x02", "file"},
		{"résumé 中文.docx", "résumé 中文.docx"},
		{"bad\xffutf8.txt", "badutf8.txt"},
		{strings.Repeat("é", 200), strings.Repeat("é", 127)},
		{"sep\u2028arator", "separator"},
	}
	for _, tt := range tests {
		if got := file.SanitizeName(tt.in); got != tt.want {
			t.Errorf("SanitizeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestInline(t *testing.T) {
	tests := map[string]bool{
		"image/png": true, "image/jpeg": true, "audio/mpeg": true, "video/mp4": true, "application/pdf": true,
		"image/svg+xml": false, "text/html; charset=utf-8": false, "application/zip": false, "text/plain; charset=utf-8": false,
	}
	for ct, want := range tests {
		if got := file.Inline(ct); got != want {
			t.Errorf("Inline(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestValidateAttachmentIDs(t *testing.T) {
	tests := []struct {
		name string
		ids  []int64
		ok   bool
	}{
		{"none", nil, true},
		{"one", []int64{1}, true},
		{"ten", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, true},
		{"eleven", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, false},
		{"twice", []int64{4, 4}, false},
		{"zero", []int64{0}, false},
		{"negative", []int64{-3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := file.ValidateAttachmentIDs(tt.ids)
			if tt.ok != (err == nil) || err != nil && !errs.Is(err, errs.Invalid) {
				t.Errorf("err = %v, ok want %v", err, tt.ok)
			}
		})
	}
}

func newFile(t *testing.T, uploader int64, ct string, w, h int) *file.File {
	t.Helper()
	thumb := ""
	if w > 0 {
		thumb = "t"
	}
	f, err := file.New(file.Upload{WorkspaceID: 1, UploaderID: uploader, Name: "x", ContentType: ct, Size: 3,
		SHA256: strings.Repeat("a", 64), Width: w, Height: h, Key: "k", ThumbKey: thumb, CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	f.Assign(9)
	return f
}

func TestAttachTo(t *testing.T) {
	f := newFile(t, 7, "text/plain", 0, 0)
	if err := f.AttachTo(8, 1, 100); !errs.Is(err, errs.NotFound) {
		t.Fatalf("someone else's file: %v, want not found", err)
	}
	if err := f.AttachTo(7, 1, 100); err != nil {
		t.Fatal(err)
	}
	if f.MessageID() != 100 || f.ChatID() != 1 {
		t.Fatalf("attached to %d in %d", f.MessageID(), f.ChatID())
	}
	if err := f.AttachTo(7, 1, 101); !errs.Is(err, errs.Conflict) {
		t.Fatalf("second message: %v, want conflict", err)
	}
	g := newFile(t, 7, "text/plain", 0, 0)
	g.Delete(t0)
	if err := g.AttachTo(7, 1, 102); !errs.Is(err, errs.NotFound) {
		t.Fatalf("deleted file: %v, want not found", err)
	}
}

func TestOrphanAndAvatar(t *testing.T) {
	f := newFile(t, 7, "image/png", 10, 20)
	if f.Orphan(t0.Add(23 * time.Hour)) {
		t.Error("orphan before 24 h")
	}
	if !f.Orphan(t0.Add(24 * time.Hour)) {
		t.Error("not orphan after 24 h")
	}
	if err := f.UsableAsAvatar(7); err != nil {
		t.Errorf("own image: %v", err)
	}
	if err := f.UsableAsAvatar(8); !errs.Is(err, errs.NotFound) {
		t.Errorf("someone else's: %v", err)
	}
	if err := newFile(t, 7, "application/pdf", 0, 0).UsableAsAvatar(7); !errs.Is(err, errs.Invalid) {
		t.Errorf("not an image: %v", err)
	}
	_ = f.AttachTo(7, 1, 5)
	if f.Orphan(t0.Add(48 * time.Hour)) {
		t.Error("attached file is no orphan")
	}
}

func TestNewRefusesMissingBytes(t *testing.T) {
	if _, err := file.New(file.Upload{WorkspaceID: 1, UploaderID: 1, SHA256: "short", Key: "k"}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("err = %v", err)
	}
}
