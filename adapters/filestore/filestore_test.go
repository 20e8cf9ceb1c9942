package filestore_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/fechatter/fechatter/adapters/filestore"
	"github.com/fechatter/fechatter/ports"
	"github.com/fechatter/fechatter/ports/porttest"
)

func TestDirContract(t *testing.T) {
	porttest.RunFileStore(t, func(t *testing.T) ports.FileStore {
		d, err := filestore.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestDirRefusesKeysThatLeaveTheRoot(t *testing.T) {
	d, err := filestore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"", "../x", "a/../../x", "/etc/passwd", "a//b", "a\\b", "a b"} {
		if _, err := d.Put(context.Background(), k, strings.NewReader("x"), 1); err == nil {
			t.Errorf("Put(%q) accepted", k)
		}
	}
}

// TestS3Contract runs the contract against a real S3-compatible server
// when S3_ENDPOINT (host:port) is set, with S3_ACCESS_KEY, S3_SECRET_KEY,
// S3_BUCKET (created if missing) and S3_SECURE=true for https; otherwise
// against gofakes3, an in-process S3 server speaking the same protocol.
func TestS3Contract(t *testing.T) {
	cfg := filestore.S3Config{
		Endpoint: os.Getenv("S3_ENDPOINT"), AccessKey: os.Getenv("S3_ACCESS_KEY"), SecretKey: os.Getenv("S3_SECRET_KEY"),
		Bucket: os.Getenv("S3_BUCKET"), Secure: os.Getenv("S3_SECURE") == "true", Region: "us-east-1",
		Prefix: "contract/", CreateBucket: true,
	}
	if cfg.Endpoint == "" {
		srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		cfg.Endpoint, cfg.AccessKey, cfg.SecretKey = u.Host, "test-key", "test-secret"
	}
	if cfg.Bucket == "" {
		cfg.Bucket = "fechatter-test"
	}
	t.Logf("S3 contract against %s", cfg.Endpoint)
	s, err := filestore.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	porttest.RunFileStore(t, func(*testing.T) ports.FileStore { return s })
}

func TestS3MissingBucketIsAnError(t *testing.T) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	_, err := filestore.NewS3(context.Background(), filestore.S3Config{Endpoint: u.Host, Bucket: "nope", AccessKey: "k", SecretKey: "s", Region: "us-east-1"})
	if err == nil {
		t.Fatal("a missing bucket was accepted")
	}
}
