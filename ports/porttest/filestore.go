package porttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

// RunFileStore is the contract of ports.FileStore. newStore returns a store
// the test may write anything into (keys are made unique per test).
func RunFileStore(t *testing.T, newStore func(t *testing.T) ports.FileStore) {
	ctx := context.Background()
	key := func(t *testing.T) string {
		return "test/" + strings.ReplaceAll(t.Name(), "/", "_") + "/" + randomHex(8)
	}
	readAll := func(t *testing.T, s ports.FileStore, k string, off, n int64) []byte {
		t.Helper()
		rc, err := s.Open(ctx, k, off, n)
		if err != nil {
			t.Fatalf("Open(%s, %d, %d): %v", k, off, n, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("read %s: %v", k, err)
		}
		return b
	}

	t.Run("put then read whole and ranges", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		k := key(t)
		data := make([]byte, 300_000)
		_, _ = rand.Read(data)
		n, err := s.Put(ctx, k, bytes.NewReader(data), -1)
		if err != nil || n != int64(len(data)) {
			t.Fatalf("Put = %d, %v", n, err)
		}
		if got := readAll(t, s, k, 0, -1); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, differ", len(got))
		}
		if got := readAll(t, s, k, 1000, 10); !bytes.Equal(got, data[1000:1010]) {
			t.Fatalf("range 1000+10 = %x", got)
		}
		if got := readAll(t, s, k, int64(len(data)-5), -1); !bytes.Equal(got, data[len(data)-5:]) {
			t.Fatalf("suffix = %x", got)
		}
		if got := readAll(t, s, k, 0, 1); !bytes.Equal(got, data[:1]) {
			t.Fatalf("first byte = %x", got)
		}
	})

	// Empty files are refused before they reach a store (UploadFile).
	t.Run("known size", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		k := key(t)
		if n, err := s.Put(ctx, k, strings.NewReader("hello"), 5); err != nil || n != 5 {
			t.Fatalf("Put = %d, %v", n, err)
		}
		if got := readAll(t, s, k, 0, -1); string(got) != "hello" {
			t.Fatalf("got %q", got)
		}
	})

	t.Run("overwrite replaces", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		k := key(t)
		if _, err := s.Put(ctx, k, strings.NewReader("first version"), -1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, k, strings.NewReader("second"), -1); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, s, k, 0, -1); string(got) != "second" {
			t.Fatalf("got %q", got)
		}
	})

	t.Run("missing key is not found", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, err := s.Open(ctx, key(t), 0, -1)
		if !errs.Is(err, errs.NotFound) {
			t.Fatalf("Open missing = %v, want not found", err)
		}
	})

	t.Run("delete removes and is idempotent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		k := key(t)
		if _, err := s.Put(ctx, k, strings.NewReader("bye"), -1); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, k, 0, -1); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Open after Delete = %v, want not found", err)
		}
		if err := s.Delete(ctx, k); err != nil {
			t.Fatalf("second Delete = %v", err)
		}
		if err := s.Delete(ctx, key(t)); err != nil {
			t.Fatalf("Delete of a never written key = %v", err)
		}
	})

	t.Run("failed reader leaves nothing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		k := key(t)
		boom := errors.New("client went away")
		r := io.MultiReader(strings.NewReader(strings.Repeat("x", 70_000)), errReader{boom})
		if _, err := s.Put(ctx, k, r, -1); !errors.Is(err, boom) {
			t.Fatalf("Put = %v, want the reader's error", err)
		}
		if _, err := s.Open(ctx, k, 0, -1); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Open after failed Put = %v, want not found", err)
		}
	})

	t.Run("concurrent puts of distinct keys", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		var wg sync.WaitGroup
		keys := make([]string, 8)
		for i := range keys {
			keys[i] = key(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Put(ctx, keys[i], strings.NewReader(fmt.Sprint("content ", i)), -1); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for i, k := range keys {
			if got := readAll(t, s, k, 0, -1); string(got) != fmt.Sprint("content ", i) {
				t.Errorf("key %d = %q", i, got)
			}
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
