package nats_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	natsadapter "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/ports"
)

const testWait = 20 * time.Second

// jsStreamCreateErr is JetStream's error code for a store it could not create.
const jsStreamCreateErr jetstream.ErrorCode = 10049

// uniqueStream returns a stream config no other test uses, so tests share a
// server safely.
func uniqueStream() natsadapter.StreamConfig {
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	return natsadapter.StreamConfig{
		Name:   "FECHATTER_TEST_" + strings.ToUpper(id),
		Prefix: "fctest" + id,
		MaxAge: time.Hour,
	}
}

// startEmbedded starts an embedded server that shuts down when t ends.
func startEmbedded(t *testing.T, cfg natsadapter.EmbeddedConfig) *natsadapter.Embedded {
	t.Helper()
	srv, err := natsadapter.StartEmbedded(cfg, zap.NewNop())
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

func connect(t *testing.T, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := natsadapter.Connect(url, t.Name(), zap.NewNop(), opts...)
	if err != nil {
		t.Fatalf("Connect(%s): %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func jetStream(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New: %v", err)
	}
	return js
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	t.Cleanup(cancel)
	return ctx
}

// ensureStream creates cfg's stream and deletes it when the test ends.
func ensureStream(t *testing.T, js jetstream.JetStream, cfg natsadapter.StreamConfig) jetstream.Stream {
	t.Helper()
	var s jetstream.Stream
	err := retryStoreCreate(func() (err error) {
		s, err = natsadapter.EnsureStream(ctxFor(t), js, cfg)
		return err
	})
	if err != nil {
		t.Fatalf("EnsureStream: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, cfg.Name)
	})
	return s
}

// newBus wires a publisher and a subscriber, each on its own connection, to
// a fresh stream on the server at url.
func newBus(t *testing.T, url string) (ports.EventPublisher, ports.EventSubscriber) {
	t.Helper()
	cfg := uniqueStream()
	pubConn := connect(t, url)
	js := jetStream(t, pubConn)
	ensureStream(t, js, cfg)
	pub, err := natsadapter.NewPublisher(js, cfg, 5*time.Second)
	if err != nil {
		t.Fatalf("NewPublisher: %v", err)
	}
	sub, err := natsadapter.NewSubscriber(connect(t, url), cfg.Prefix, zap.NewNop())
	if err != nil {
		t.Fatalf("NewSubscriber: %v", err)
	}
	return pub, sub
}

// externalURL returns the external NATS to test against (NATS_URL, default
// nats://127.0.0.1:4222) or skips the test, saying why, when it is down.
func externalURL(t *testing.T) string {
	t.Helper()
	raw := os.Getenv("NATS_URL")
	if raw == "" {
		raw = nats.DefaultURL
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Skipf("skipping: NATS_URL %q is not a URL", raw)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		t.Skipf("skipping: external NATS at %s is unreachable: %v", raw, err)
	}
	_ = conn.Close()
	anchorOnce.Do(func() { anchorAccount(t, raw) })
	return raw
}

// retryStoreCreate runs create again while NATS Server 2.9 answers "error
// creating store for stream" (10049). The server removes an account's stream
// directory along with its last stream, and a stream or bucket created by a
// parallel test at that moment fails (mkdir .../streams: no such file).
// Only tests create and delete streams concurrently, so only they retry.
func retryStoreCreate(create func() error) error {
	err := create()
	for i := 0; i < 10 && err != nil && isStoreCreateErr(err); i++ {
		time.Sleep(time.Duration(i+1) * 20 * time.Millisecond) // back off from the server's cleanup
		err = create()
	}
	return err
}

func isStoreCreateErr(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jsStreamCreateErr {
		return true
	}
	return strings.Contains(err.Error(), "err_code=10049") // wrapped as text by an adapter
}

var anchorOnce sync.Once

// anchorAccount keeps one stream in the external server's account for
// good. NATS Server 2.9 removes an account's stream directory along with its
// last stream, and a stream created by a parallel test at that moment fails
// ("error creating store for stream"); with an anchor the account is never
// left without a stream. It is tiny and never deleted.
func anchorAccount(t *testing.T, url string) {
	nc, err := nats.Connect(url)
	if err != nil {
		return // the tests will report the connection themselves
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "FECHATTER_TEST_ANCHOR",
		Subjects: []string{"fechatter-test-anchor"}, Storage: jetstream.FileStorage, MaxMsgs: 1})
	if err != nil {
		t.Logf("could not anchor the external NATS account: %v", err)
	}
}
