package bootstrap

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/zap"
)

// prepareIndex retries the backend's preparation until it succeeds, and
// gives up only when the server stops.
func TestPrepareIndexRetriesUntilReady(t *testing.T) {
	t.Parallel()
	tries := 0
	si := &searchIndex{prepare: func(context.Context) error {
		tries++
		if tries == 1 {
			return errors.New("meilisearch is starting")
		}
		return nil
	}}
	if !prepareIndex(context.Background(), si, zap.NewNop()) || tries != 2 {
		t.Fatalf("ready after %d tries; want ready after 2", tries)
	}

	ctx, cancel := context.WithCancel(context.Background())
	tries = 0
	never := &searchIndex{prepare: func(context.Context) error {
		tries++
		cancel() // the server stops during the first wait
		return errors.New("meilisearch is away")
	}}
	if prepareIndex(ctx, never, zap.NewNop()) || tries != 1 {
		t.Fatalf("stopped server: ready or %d tries; want not ready after 1", tries)
	}
}
