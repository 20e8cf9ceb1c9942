package bench

import (
	"testing"
	"time"
)

func TestSamplesPercentilesAreNearestRank(t *testing.T) {
	s := NewSamples(0)
	for i := 100; i >= 1; i-- { // 1..100 ms, added out of order
		s.Add(time.Duration(i) * time.Millisecond)
	}
	got := s.Summary()
	want := Summary{Count: 100, P50: 50, P95: 95, P99: 99, Max: 100, Mean: 50.5}
	if got != want {
		t.Fatalf("summary %+v, want %+v", got, want)
	}
	if (NewSamples(0).Summary() != Summary{}) {
		t.Fatal("an empty collection has a non-zero summary")
	}
}

func TestSamplesReservoirStaysBoundedAndRepresentative(t *testing.T) {
	s := NewSamples(1000)
	for i := range 100_000 {
		s.Add(time.Duration(i%100+1) * time.Millisecond) // uniform 1..100 ms
	}
	if len(s.vals) != 1000 {
		t.Fatalf("kept %d samples, want the limit 1000", len(s.vals))
	}
	got := s.Summary()
	if got.Count != 100_000 || got.Max != 100 || got.Mean != 50.5 {
		t.Fatalf("exact fields wrong: %+v", got)
	}
	// A uniform reservoir of 1000 puts the median of U(1,100) within a
	// few ms of 50 (the bound is many standard deviations wide).
	if got.P50 < 40 || got.P50 > 60 || got.P99 < 95 {
		t.Fatalf("reservoir percentiles off: %+v", got)
	}
}
