package loadtest

import (
	"math"
	"slices"
	"time"
)

// Latency summarises a set of durations.
type Latency struct {
	Count int           `json:"count"`
	Min   time.Duration `json:"min_ns"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P95   time.Duration `json:"p95_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
}

// Summarize computes the latency summary of d (which it sorts in place).
// An empty slice gives the zero Latency.
func Summarize(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	return Latency{
		Count: len(d),
		Min:   d[0],
		Mean:  sum / time.Duration(len(d)),
		P50:   Percentile(d, 50),
		P95:   Percentile(d, 95),
		P99:   Percentile(d, 99),
		Max:   d[len(d)-1],
	}
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of the
// sorted slice d: the smallest value with at least p % of the values at or
// below it. p <= 0 gives the minimum; an empty slice gives 0.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	if p >= 100 {
		return sorted[n-1]
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return sorted[max(rank, 1)-1]
}

// PerSecond is count / d in events per second (0 when d is not positive).
func PerSecond(count int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(count) / d.Seconds()
}
