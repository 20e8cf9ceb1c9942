package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.FileStore = (*S3)(nil)

// S3Config locates a bucket of an S3-compatible service.
type S3Config struct {
	Endpoint  string // host:port
	Bucket    string
	Region    string
	AccessKey string
	SecretKey string
	Secure    bool   // https
	Prefix    string // prepended to every key, e.g. "fechatter/"
	// CreateBucket makes the bucket when it is missing (development).
	CreateBucket bool
}

// S3 keeps each key as an object of one bucket.
type S3 struct {
	client *minio.Client
	cfg    S3Config
}

// NewS3 connects to the bucket and checks that it exists (or makes it).
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("filestore: S3 needs an endpoint and a bucket")
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       cfg.Secure,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("filestore: S3 client: %w", err)
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("filestore: S3 bucket %s: %w", cfg.Bucket, err)
	}
	if !ok {
		if !cfg.CreateBucket {
			return nil, fmt.Errorf("filestore: S3 bucket %s does not exist", cfg.Bucket)
		}
		if err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			return nil, fmt.Errorf("filestore: make S3 bucket %s: %w", cfg.Bucket, err)
		}
	}
	return &S3{client: client, cfg: cfg}, nil
}

func (s *S3) object(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return s.cfg.Prefix + key, nil
}

// Put spools a body of unknown size to a temporary file first, so the
// client uploads it with a known size from disk instead of buffering
// parts in memory; a reader that fails leaves nothing in the bucket.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) (int64, error) {
	obj, err := s.object(key)
	if err != nil {
		return 0, err
	}
	if size < 0 {
		tmp, err := os.CreateTemp("", "fechatter-upload-*")
		if err != nil {
			return 0, fmt.Errorf("filestore: %w", err)
		}
		defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
		n, err := io.Copy(tmp, ctxReader{ctx, r})
		if err != nil {
			return 0, fmt.Errorf("filestore: put %s: %w", key, err)
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return 0, fmt.Errorf("filestore: %w", err)
		}
		r, size = tmp, n
	}
	info, err := s.client.PutObject(ctx, s.cfg.Bucket, obj, r, size, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return 0, fmt.Errorf("filestore: put %s: %w", key, err)
	}
	return info.Size, nil
}

// Open gets the object, or the asked range of it.
func (s *S3) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	obj, err := s.object(key)
	if err != nil {
		return nil, err
	}
	var opts minio.GetObjectOptions
	switch {
	case length == 0:
		return io.NopCloser(eofReader{}), s.exists(ctx, obj, key)
	case length > 0:
		err = opts.SetRange(offset, offset+length-1)
	case offset > 0:
		err = opts.SetRange(offset, 0)
	}
	if err != nil {
		return nil, errs.Invalidf("bad range: %v", err)
	}
	o, err := s.client.GetObject(ctx, s.cfg.Bucket, obj, opts)
	if err != nil {
		return nil, s.err(err, key)
	}
	// GetObject is lazy: Stat makes the request and tells a missing key.
	if _, err := o.Stat(); err != nil {
		o.Close()
		return nil, s.err(err, key)
	}
	return o, nil
}

func (s *S3) exists(ctx context.Context, obj, key string) error {
	_, err := s.client.StatObject(ctx, s.cfg.Bucket, obj, minio.StatObjectOptions{})
	if err != nil {
		return s.err(err, key)
	}
	return nil
}

func (s *S3) err(err error, key string) error {
	resp := minio.ToErrorResponse(err)
	if resp.Code == minio.NoSuchKey || resp.StatusCode == 404 {
		return errs.NotFoundf("file bytes %s not found", key)
	}
	return errs.Wrap(errs.Unavailable, err, "file storage unavailable")
}

// Delete removes the object; S3 deletes of missing keys succeed.
func (s *S3) Delete(ctx context.Context, key string) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.cfg.Bucket, obj, minio.RemoveObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil
		}
		return fmt.Errorf("filestore: delete %s: %w", key, err)
	}
	return nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
