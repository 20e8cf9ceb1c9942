package memory

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/fechatter/fechatter/domain/errs"
	"github.com/fechatter/fechatter/ports"
)

var _ ports.FileStore = (*FileStore)(nil)

// FileStore keeps file bytes in a map, for tests (it holds whole bodies in
// memory, which the real adapters never do).
type FileStore struct {
	mu    sync.Mutex
	files map[string][]byte
}

// NewFileStore returns an empty store.
func NewFileStore() *FileStore { return &FileStore{files: make(map[string][]byte)} }

func (s *FileStore) Put(ctx context.Context, key string, r io.Reader, _ int64) (int64, error) {
	var b bytes.Buffer
	n, err := io.Copy(&b, r)
	if err != nil {
		return 0, fmt.Errorf("memory file store: put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.files[key] = b.Bytes()
	s.mu.Unlock()
	return n, nil
}

func (s *FileStore) Open(_ context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	s.mu.Lock()
	b, ok := s.files[key]
	s.mu.Unlock()
	if !ok {
		return nil, errs.NotFoundf("file bytes %s not found", key)
	}
	offset = min(max(offset, 0), int64(len(b)))
	end := int64(len(b))
	if length >= 0 {
		end = min(end, offset+length)
	}
	return io.NopCloser(bytes.NewReader(b[offset:end])), nil
}

func (s *FileStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	delete(s.files, key)
	s.mu.Unlock()
	return nil
}

// Len is how many keys are stored.
func (s *FileStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files)
}
