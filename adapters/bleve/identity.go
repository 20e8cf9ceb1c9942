package bleve

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// identityKey is the internal (non-document) key holding the index's
// identity.
var identityKey = []byte("fechatter.identity")

// Identity is a random name the index keeps inside itself, made on first
// use: it stays with the index across restarts and is new for a new index
// (another directory, or one rebuilt from scratch). The indexer names its
// stream consumer after it, so that every server with an embedded index
// keeps its own position in the stream and indexes every message.
func (x *Index) Identity() (string, error) {
	v, err := x.idx.GetInternal(identityKey)
	if err != nil {
		return "", fmt.Errorf("bleve index: read identity: %w", err)
	}
	if len(v) > 0 {
		return string(v), nil
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	if err := x.idx.SetInternal(identityKey, []byte(id)); err != nil {
		return "", fmt.Errorf("bleve index: write identity: %w", err)
	}
	return id, nil
}
