package event

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// newBackOff is the retry schedule of the relay and the indexer: the wait
// doubles from min up to max, and each wait is drawn uniformly from
// [d/2, d] so that the relays and indexers of several instances retry
// apart. The library randomizes around a centre (interval ± factor), so
// the centre is 3d/4 and the factor 1/3.
func newBackOff(min, max time.Duration) *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval:     min * 3 / 4,
		RandomizationFactor: 1.0 / 3,
		Multiplier:          2,
		MaxInterval:         max * 3 / 4,
	}
}

// retryUntilDone runs op until it succeeds or ctx is done (then it returns
// ctx's error), waiting b's schedule between failures; notify hears each
// failure with the wait before the next try.
func retryUntilDone[T any](ctx context.Context, b *backoff.ExponentialBackOff, op func() (T, error), notify func(err error, wait time.Duration)) (T, error) {
	return backoff.Retry(ctx, op,
		backoff.WithBackOff(b),
		backoff.WithMaxElapsedTime(0), // never give up: the backlog waits
		backoff.WithNotify(notify))
}
