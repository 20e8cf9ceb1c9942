package imaging_test

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/fechatter/fechatter/adapters/imaging"
	"github.com/fechatter/fechatter/adapters/imaging/imagingtest"
	"github.com/fechatter/fechatter/domain/errs"
)

func TestImageMeasuresAndThumbnails(t *testing.T) {
	tests := []struct {
		name         string
		w, h         int
		thumbW, thmH int
	}{
		{"wide", 1200, 600, 360, 180},
		{"tall", 300, 900, 120, 360},
		{"small stays", 40, 20, 40, 20},
		{"thin", 2000, 1, 360, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := imaging.Inspector{}.Image(context.Background(), bytes.NewReader(imagingtest.PNG(t, tt.w, tt.h)))
			if err != nil {
				t.Fatal(err)
			}
			if info.Width != tt.w || info.Height != tt.h {
				t.Fatalf("size %dx%d, want %dx%d", info.Width, info.Height, tt.w, tt.h)
			}
			if info.ThumbnailType != "image/png" {
				t.Fatalf("thumbnail type %q", info.ThumbnailType)
			}
			th, err := png.Decode(bytes.NewReader(info.Thumbnail))
			if err != nil {
				t.Fatal(err)
			}
			if b := th.Bounds(); b.Dx() != tt.thumbW || b.Dy() != tt.thmH {
				t.Fatalf("thumbnail %dx%d, want %dx%d", b.Dx(), b.Dy(), tt.thumbW, tt.thmH)
			}
		})
	}
}

func TestJPEGThumbnailIsJPEG(t *testing.T) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 800, 800)), nil); err != nil {
		t.Fatal(err)
	}
	info, err := imaging.Inspector{}.Image(context.Background(), &b)
	if err != nil || info.ThumbnailType != "image/jpeg" || info.Width != 800 {
		t.Fatalf("%+v %v", info.ThumbnailType, err)
	}
	if _, err := jpeg.Decode(bytes.NewReader(info.Thumbnail)); err != nil {
		t.Fatal(err)
	}
}

func TestNotAnImage(t *testing.T) {
	_, err := imaging.Inspector{}.Image(context.Background(), strings.NewReader("just text"))
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("err = %v", err)
	}
	// A PNG whose body is cut after the header: measured, no thumbnail.
	full := imagingtest.PNG(t, 100, 100)
	info, err := imaging.Inspector{}.Image(context.Background(), bytes.NewReader(full[:60]))
	if err != nil || info.Width != 100 || info.Thumbnail != nil {
		t.Fatalf("truncated: %+v %v", info.Width, err)
	}
}

func TestSniffIgnoresNames(t *testing.T) {
	s := imaging.Inspector{}
	if got := s.Sniff(imagingtest.PNG(t, 2, 2)); got != "image/png" {
		t.Errorf("png sniffed as %q", got)
	}
	if got := s.Sniff([]byte("<html><script>alert(1)</script>")); !strings.HasPrefix(got, "text/html") {
		t.Errorf("html sniffed as %q", got)
	}
}
