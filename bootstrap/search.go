package bootstrap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/fechatter/fechatter/adapters/bleve"
	"github.com/fechatter/fechatter/adapters/meili"
	"github.com/fechatter/fechatter/adapters/memory"
	natsadapter "github.com/fechatter/fechatter/adapters/nats"
	"github.com/fechatter/fechatter/adapters/observability"
	"github.com/fechatter/fechatter/adapters/postgres"
	"github.com/fechatter/fechatter/application/event"
	"github.com/fechatter/fechatter/application/query"
	"github.com/fechatter/fechatter/ports"
)

// searchModule provides the search index of the configured backend and runs
// the indexer that feeds it from the stream.
func searchModule(cfg Config) fx.Option {
	return fx.Module("search",
		fx.Provide(
			newSearchIndex,
			func(r *postgres.MessageReadModel) query.MemberChats { return r },
			func(r *postgres.MessageReadModel) query.MessageLookup { return r },
			func(r *postgres.MessageReadModel) event.SearchSource { return r },
			func(r *postgres.MessageReadModel) event.DocumentLoader { return r },
			fx.Annotate(searchHealthCheck, fx.ResultTags(`group:"health"`)),
		),
		fx.Invoke(runIndexer),
	)
}

// searchIndex is what the module holds: the port, and how to prepare it.
type searchIndex struct {
	ports.SearchIndex
	// prepare makes the index ready for writes (Meilisearch settings);
	// retried until it succeeds.
	prepare func(ctx context.Context) error
	// rebuild, when set, fills an index that was recreated empty (Bleve of
	// an older format) from Postgres once prepared; retried, unbounded in
	// time, until it succeeds.
	rebuild func(ctx context.Context) error
	close   func() error
	// durable is the indexer's stream consumer. An index every instance
	// shares (Meilisearch) has one consumer for the cluster, so each
	// message is indexed once; an index inside the process (Bleve, memory)
	// has one of its own, named after the index, so each instance indexes
	// every message (sharing it would leave each index with a part).
	durable string
	private bool
}

// indexerMaxBackoff is the longest wait between the indexer's retries.
const indexerMaxBackoff = 2 * time.Second

// privateConsumerInactive is how long a server's own indexer consumer
// outlives the server: after that NATS deletes it, and an index coming
// back later starts from the beginning of the stream (writes are upserts).
const privateConsumerInactive = 24 * time.Hour

// consumer is the indexer's consumer configuration on stream.
func (si *searchIndex) consumer(stream natsadapter.StreamConfig) natsadapter.PullConsumerConfig {
	c := natsadapter.PullConsumerConfig{Stream: stream, Durable: si.durable}
	if si.private {
		c.InactiveThreshold = privateConsumerInactive
	}
	return c
}

func newSearchIndex(lc fx.Lifecycle, cfg Config, src event.SearchSource, log *zap.Logger) (ports.SearchIndex, *searchIndex, error) {
	si, err := openSearchIndex(cfg)
	if err != nil {
		return nil, nil, err
	}
	if b, ok := si.SearchIndex.(*bleve.Index); ok && b.Created() {
		// A new index (none was there, or one of an older mapping was
		// replaced): fill it from Postgres before the indexer resumes,
		// since the stream its consumer replays keeps only its last days.
		if b.Recreated() {
			log.Warn("search index of an older format replaced; rebuilding it from the database", zap.String("dir", cfg.Search.Dir))
		} else {
			log.Info("new search index; filling it from the database", zap.String("dir", cfg.Search.Dir))
		}
		si.rebuild = func(ctx context.Context) error {
			n, err := event.Reindex(ctx, src, b, 500, nil)
			if err == nil {
				log.Info("search index rebuilt", zap.Int("messages", n))
			}
			return err
		}
	}
	lc.Append(fx.Hook{OnStop: func(context.Context) error { return si.close() }})
	return si.SearchIndex, si, nil
}

// openSearchIndex opens the configured backend. A Bleve directory is
// locked by the process that has it open: a second opener waits, so give up
// after a while with a clear reason.
func openSearchIndex(cfg Config) (*searchIndex, error) {
	switch cfg.Search.Backend {
	case SearchBleve:
		type opened struct {
			idx *bleve.Index
			err error
		}
		ch := make(chan opened, 1)
		go func() {
			idx, err := bleve.Open(cfg.Search.Dir)
			ch <- opened{idx, err}
		}()
		select {
		case o := <-ch:
			if o.err != nil {
				return nil, fmt.Errorf("open bleve index at %s: %w", cfg.Search.Dir, o.err)
			}
			id, err := o.idx.Identity()
			if err != nil {
				_ = o.idx.Close()
				return nil, err
			}
			return &searchIndex{SearchIndex: o.idx, close: o.idx.Close, durable: natsadapter.DefaultIndexerDurable + "-bleve-" + id, private: true}, nil
		case <-time.After(15 * time.Second):
			return nil, fmt.Errorf("bleve index at %s is locked by another process (is a server running on it?)", cfg.Search.Dir)
		}
	case SearchMeili:
		idx, err := meili.New(cfg.Search.MeiliURL, cfg.Search.MeiliKey, "messages")
		if err != nil {
			return nil, err
		}
		return &searchIndex{SearchIndex: idx, prepare: idx.EnsureSettings, close: func() error { return nil },
			durable: natsadapter.DefaultIndexerDurable}, nil
	case SearchMemory:
		var b [8]byte
		_, _ = rand.Read(b[:])
		return &searchIndex{SearchIndex: memory.NewSearchIndex(), close: func() error { return nil },
			durable: natsadapter.DefaultIndexerDurable + "-memory-" + hex.EncodeToString(b[:]), private: true}, nil
	}
	return nil, fmt.Errorf("unknown search backend %q", cfg.Search.Backend)
}

// searchHealthCheck pings the backend. It does not wait for the indexer's
// preparation: a backend that answers serves the searches it can.
func searchHealthCheck(idx ports.SearchIndex) HealthCheck {
	return HealthCheck{Name: healthSearch, Check: idx.Ping}
}

type indexerIn struct {
	fx.In
	LC     fx.Lifecycle
	Config Config
	Log    *zap.Logger
	JS     jetstream.JetStream
	Stream natsadapter.StreamConfig
	Index  *searchIndex
	Docs   event.DocumentLoader
	// Metrics, when present, count the index writes and record the lag.
	Metrics *observability.Metrics `optional:"true"`
}

// runIndexer starts the durable pull consumer and the batching indexer. It
// never blocks start-up on the search backend: while it is down, messages
// wait in the stream and search answers 503.
func runIndexer(in indexerIn) {
	log := in.Log.Named("indexer")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	in.LC.Append(fx.Hook{
		OnStart: func(startCtx context.Context) error {
			cc := in.Index.consumer(in.Stream)
			src, err := natsadapter.NewPullSource(startCtx, in.JS, cc, log)
			if err != nil {
				return fmt.Errorf("indexer consumer: %w", err)
			}
			index := in.Index.SearchIndex
			// Retries of a backend that is away at most 2 s apart: a
			// refused connection costs nothing, and the backlog is indexed
			// within 2 s of its return rather than up to 10 s later.
			opts := event.IndexerOptions{BatchSize: in.Config.Search.BatchSize, BatchTimeout: in.Config.Search.BatchTimeout,
				MaxBackoff: indexerMaxBackoff}
			if in.Metrics != nil {
				index = in.Metrics.InstrumentSearchIndex(index)
				opts.OnLag = in.Metrics.ObserveIndexLag
			}
			idx, err := event.NewIndexer(src, index, log, opts)
			if err != nil {
				return err
			}
			idx.WithDocuments(in.Docs)
			if in.Metrics != nil {
				in.Metrics.WatchIndexLag(idx.LastLag)
			}
			log.Info("indexer consumer", zap.String("durable", cc.Durable), zap.Bool("own", in.Index.private))
			go func() {
				defer close(done)
				if !prepareIndex(ctx, in.Index, log) {
					return
				}
				_ = idx.Run(ctx)
			}()
			return nil
		},
		OnStop: func(stopCtx context.Context) error {
			cancel()
			select {
			case <-done:
			case <-stopCtx.Done():
			}
			return nil
		},
	})
}

// prepareIndex retries the backend's preparation with backoff until it
// succeeds or ctx ends; it reports whether the index is ready.
func prepareIndex(ctx context.Context, si *searchIndex, log *zap.Logger) bool {
	if si.prepare != nil && !retry(ctx, log, func(ctx context.Context) error {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return si.prepare(pctx)
	}) {
		return false
	}
	return si.rebuild == nil || retry(ctx, log, si.rebuild)
}

// retry runs f until it succeeds (true) or ctx ends (false), waiting from
// 500 ms to 30 s between attempts (doubling, without jitter: one process
// waits for its own backend).
func retry(ctx context.Context, log *zap.Logger, f func(context.Context) error) bool {
	schedule := &backoff.ExponentialBackOff{InitialInterval: 500 * time.Millisecond, Multiplier: 2, MaxInterval: 30 * time.Second}
	_, err := backoff.Retry(ctx, func() (struct{}, error) { return struct{}{}, f(ctx) },
		backoff.WithBackOff(schedule), backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, wait time.Duration) {
			log.Warn("search index not ready; retrying", zap.Error(err), zap.Duration("retry_in", wait))
		}))
	return err == nil // only ctx's end stops the retries
}
