package observability

import (
	"context"

	"github.com/fechatter/fechatter/ports"
)

// InstrumentSearchIndex returns idx decorated to count the indexer's batch
// writes, their failures and their documents. Give it to the indexer only:
// searches and pings pass through uncounted.
func (m *Metrics) InstrumentSearchIndex(idx ports.SearchIndex) ports.SearchIndex {
	if idx == nil {
		panic("observability: InstrumentSearchIndex needs an index")
	}
	return countingIndex{SearchIndex: idx, m: m}
}

type countingIndex struct {
	ports.SearchIndex
	m *Metrics
}

func (c countingIndex) Upsert(ctx context.Context, docs []ports.SearchDocument) error {
	return c.count("upsert", len(docs), c.SearchIndex.Upsert(ctx, docs))
}

func (c countingIndex) Delete(ctx context.Context, ids []int64) error {
	return c.count("delete", len(ids), c.SearchIndex.Delete(ctx, ids))
}

func (c countingIndex) count(op string, n int, err error) error {
	c.m.indexWrites.WithLabelValues(op).Inc()
	if err != nil {
		c.m.indexFails.WithLabelValues(op).Inc()
		return err
	}
	c.m.indexDocs.WithLabelValues(op).Add(float64(n))
	return nil
}
