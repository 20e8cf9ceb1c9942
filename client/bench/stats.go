package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// maxSamples bounds the memory of one Samples: past it, a uniform
// reservoir of that size stands for all the samples seen.
const maxSamples = 1_000_000

// Samples collects durations for percentiles. Count, mean and max are
// exact; percentiles come from every sample up to the limit, then from a
// uniform reservoir (Vitter's algorithm R). Safe for concurrent use.
type Samples struct {
	mu    sync.Mutex
	limit int
	vals  []time.Duration
	seen  int64
	sum   time.Duration
	max   time.Duration
	rng   *rand.Rand
}

// NewSamples returns an empty collection keeping at most limit samples
// (limit <= 0: maxSamples).
func NewSamples(limit int) *Samples {
	if limit <= 0 {
		limit = maxSamples
	}
	return &Samples{limit: limit, rng: rand.New(rand.NewPCG(1, 2))}
}

// Add records one sample.
func (s *Samples) Add(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen++
	s.sum += d
	s.max = max(s.max, d)
	if len(s.vals) < s.limit {
		s.vals = append(s.vals, d)
		return
	}
	if j := s.rng.Int64N(s.seen); j < int64(s.limit) {
		s.vals[j] = d
	}
}

// Summary are the percentiles of a Samples, in milliseconds.
type Summary struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// Summary computes the percentiles of what was added so far.
func (s *Samples) Summary() Summary {
	s.mu.Lock()
	vals := slices.Clone(s.vals)
	out := Summary{Count: s.seen, Max: ms(s.max)}
	if s.seen > 0 {
		out.Mean = ms(s.sum / time.Duration(s.seen))
	}
	s.mu.Unlock()
	if len(vals) == 0 {
		return out
	}
	slices.Sort(vals)
	out.P50 = ms(percentile(vals, 0.50))
	out.P95 = ms(percentile(vals, 0.95))
	out.P99 = ms(percentile(vals, 0.99))
	return out
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// ms is d in milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
