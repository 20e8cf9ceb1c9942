package command

import (
	"context"

	"github.com/fechatter/fechatter/domain/file"
	"github.com/fechatter/fechatter/ports"
)

// FileCleaner removes files: the orphans nobody attached within 24 h, and
// the bytes of files whose message was deleted.
type FileCleaner struct {
	files ports.FileRepository
	store ports.FileStore
	clock ports.Clock
}

// NewFileCleaner builds the cleaner.
func NewFileCleaner(files ports.FileRepository, store ports.FileStore, clock ports.Clock) FileCleaner {
	mustHave(map[string]any{"files": files, "store": store, "clock": clock})
	return FileCleaner{files: files, store: store, clock: clock}
}

// SweepOrphans deletes up to limit files never attached to a message (nor
// anyone's avatar) that are older than file.OrphanAfter; it returns how
// many it deleted.
func (c FileCleaner) SweepOrphans(ctx context.Context, limit int) (int, error) {
	now := c.clock.Now()
	orphans, err := c.files.Orphans(ctx, now.Add(-file.OrphanAfter), limit)
	if err != nil || len(orphans) == 0 {
		return 0, err
	}
	return len(orphans), c.Delete(ctx, orphans)
}

// Delete marks files deleted (their links answer 404 from then on, their
// bytes leave the quota), then removes their bytes. Bytes that fail to go
// are only wasted space: the metadata already refuses them.
func (c FileCleaner) Delete(ctx context.Context, files []*file.File) error {
	if len(files) == 0 {
		return nil
	}
	now := c.clock.Now()
	for _, f := range files {
		f.Delete(now)
	}
	if err := c.files.MarkDeleted(ctx, files); err != nil {
		return err
	}
	c.removeBytes(ctx, files)
	return nil
}

func (c FileCleaner) removeBytes(ctx context.Context, files []*file.File) {
	ctx = context.WithoutCancel(ctx)
	for _, f := range files {
		_ = c.store.Delete(ctx, f.Key())
		if f.ThumbKey() != "" {
			_ = c.store.Delete(ctx, f.ThumbKey())
		}
	}
}
