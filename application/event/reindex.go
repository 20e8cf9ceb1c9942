package event

import (
	"context"
	"errors"

	"github.com/fechatter/fechatter/ports"
)

// SearchSource pages through the messages of the source of truth.
type SearchSource interface {
	// SearchDocuments returns up to limit live messages with id > afterID,
	// ascending by id.
	SearchDocuments(ctx context.Context, afterID int64, limit int) ([]ports.SearchDocument, error)
	// CountSearchDocuments counts the live messages.
	CountSearchDocuments(ctx context.Context) (int, error)
}

// Reindex rebuilds the search index from the source: every live message is
// upserted, in batches of batchSize. progress, if not nil, hears how many
// of total are done after each batch. Upserts are idempotent, so a reindex
// can run beside the indexer and be repeated after a failure.
func Reindex(ctx context.Context, src SearchSource, index ports.SearchIndex, batchSize int, progress func(done, total int)) (int, error) {
	if src == nil || index == nil {
		return 0, errors.New("reindex: nil source or index")
	}
	if batchSize <= 0 {
		batchSize = 500
	}
	total, err := src.CountSearchDocuments(ctx)
	if err != nil {
		return 0, err
	}
	done := 0
	var after int64
	for {
		docs, err := src.SearchDocuments(ctx, after, batchSize)
		if err != nil {
			return done, err
		}
		if len(docs) == 0 {
			return done, nil
		}
		if err := index.Upsert(ctx, docs); err != nil {
			return done, err
		}
		done += len(docs)
		after = docs[len(docs)-1].ID
		if done > total {
			total = done // messages sent while reindexing
		}
		if progress != nil {
			progress(done, total)
		}
	}
}
