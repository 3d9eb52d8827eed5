// Package benchutil holds what the benchmarks share: measuring a
// benchmark inside another so that a path and its floor come from one run.
package benchutil

import (
	"slices"
	"testing"
)

// Measure runs f as the sub-benchmark name of b and returns its median
// ns/op over its real runs: b.Run first probes with b.N = 1, whose time
// includes setup, and -count repeats the rest, each with the b.N that its
// own probe chose (so, without -benchtime Nx, not the same b.N). The
// probes are left out; with -benchtime 1x every run is a probe and all are
// kept. (testing.Benchmark cannot be used inside a running benchmark: it
// would wait for the benchmark lock that the running benchmark holds.) It
// returns 0 when the sub-benchmark was filtered out.
func Measure(b *testing.B, name string, f func(*testing.B)) float64 {
	type sample struct {
		n  int
		ns float64
	}
	var samples []sample
	b.Run(name, func(b *testing.B) {
		f(b)
		if b.N > 0 {
			samples = append(samples, sample{b.N, float64(b.Elapsed().Nanoseconds()) / float64(b.N)})
		}
	})
	return median(samples, func(s sample) (int, float64) { return s.n, s.ns })
}

// median returns the median ns of the samples whose n is above 1, or of all
// of them when every n is 1; 0 for none.
func median[S any](samples []S, of func(S) (n int, ns float64)) float64 {
	var all, real []float64
	for _, s := range samples {
		n, ns := of(s)
		all = append(all, ns)
		if n > 1 {
			real = append(real, ns)
		}
	}
	if len(real) == 0 {
		real = all
	}
	if len(real) == 0 {
		return 0
	}
	slices.Sort(real)
	return real[len(real)/2]
}

// Batched runs req(i) for i in [0, b.N) with allocations reported, for
// requests that each need a fresh credential (a DPoP proof, a signed
// request): fill makes the next batch of credentials and runs first outside
// the timer, then again, with the timer stopped, every batch requests.
func Batched(b *testing.B, batch int, fill func(), req func(i int)) {
	fill()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%batch == 0 && i > 0 {
			b.StopTimer()
			fill()
			b.StartTimer()
		}
		req(i % batch)
	}
}
