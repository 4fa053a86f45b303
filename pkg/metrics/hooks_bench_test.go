package metrics

import (
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/stream"
)

// BenchmarkEventHooks is what one abandoned-cart event costs the metrics
// on the processing path: the runtime's Processed, the engine's timing
// (two clock reads and a histogram) and its effects (an entry, an
// activity's skip and a send), plus a commit per 1,000 events. Compare it
// with the engine's CPU per event in docs/benchmarks.md.
func BenchmarkEventHooks(b *testing.B) {
	reg, err := New()
	if err != nil {
		b.Fatal(err)
	}
	s, j, err := ForEngine(reg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	func() {
		i := 0
		for range b.N {
			began := time.Now()
			s.Processed("events", int32(i%16), stream.KindRecord, stream.OutcomeProcessed, 1)
			j.Entered("abandoned-cart")
			j.Sent("email")
			j.Skipped("quiet_hours")
			j.Handled(stream.KindRecord, time.Since(began))
			if i%1000 == 0 {
				s.Committed(time.Millisecond, 1000)
				s.Lag("events", int32(i%16), 3)
			}
			i++
		}
	}()
}
