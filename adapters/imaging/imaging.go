// Package imaging implements ports.FileInspector with the standard
// library's content sniffing and image decoders (plus WebP and BMP from
// golang.org/x/image), scaling thumbnails with x/image/draw.
package imaging

import (
	"bufio"
	"bytes"
	"context"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"

	_ "golang.org/x/image/bmp" // registers BMP
	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registers WebP

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/domain/file"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.FileInspector = Inspector{}

// MaxThumbnailPixels bounds the images decoded whole for a thumbnail
// (about 160 MB of pixels at 4 bytes each); larger ones are measured only.
const MaxThumbnailPixels = 40_000_000

// Inspector is the FileInspector.
type Inspector struct{}

// Sniff uses the WHATWG sniffing algorithm of net/http.
func (Inspector) Sniff(head []byte) string { return http.DetectContentType(head) }

// Image decodes the header for the size, then (when not too large) the
// pixels for a thumbnail.
func (Inspector) Image(ctx context.Context, r io.Reader) (ports.ImageInfo, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(64 << 10)
	cfg, format, err := image.DecodeConfig(bytes.NewReader(head))
	if err != nil {
		return ports.ImageInfo{}, errs.Invalidf("not a decodable image: %v", err)
	}
	info := ports.ImageInfo{Width: cfg.Width, Height: cfg.Height}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxThumbnailPixels || ctx.Err() != nil {
		return info, nil
	}
	var img image.Image
	if format == "gif" {
		img, err = gif.Decode(br) // the first frame
	} else {
		img, _, err = image.Decode(br)
	}
	if err != nil {
		return info, nil // measured, but no thumbnail
	}
	thumb := scale(img, file.ThumbnailMaxSide)
	var out bytes.Buffer
	if format == "png" || format == "gif" || format == "webp" {
		err = png.Encode(&out, thumb)
		info.ThumbnailType = "image/png"
	} else {
		err = jpeg.Encode(&out, thumb, &jpeg.Options{Quality: 82})
		info.ThumbnailType = "image/jpeg"
	}
	if err != nil {
		return info, nil
	}
	info.Thumbnail = out.Bytes()
	return info, nil
}

// scale fits img into a side x side box, keeping its aspect ratio; smaller
// images are copied as they are.
func scale(img image.Image, side int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > side || h > side {
		if w >= h {
			h, w = max(1, h*side/w), side
		} else {
			w, h = max(1, w*side/h), side
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}
