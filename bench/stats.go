package bench

import (
	"slices"
	"time"
)

// Latencies summarises a sample of durations.
type Latencies struct {
	N                   int
	P50, P99, P999, Max time.Duration
}

// Summarise sorts d in place and returns its nearest-rank percentiles.
func Summarise(d []time.Duration) Latencies {
	if len(d) == 0 {
		return Latencies{}
	}
	slices.Sort(d)
	return Latencies{N: len(d), P50: rank(d, 0.50), P99: rank(d, 0.99), P999: rank(d, 0.999), Max: d[len(d)-1]}
}

// rank is the nearest-rank percentile q of sorted d.
func rank(d []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(d))+0.999999999) - 1
	return d[min(max(i, 0), len(d)-1)]
}
