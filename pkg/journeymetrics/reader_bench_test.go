package journeymetrics

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkReaderMemory loads the hourly records of a busy journey (ten
// steps, five flows changing every hour at each, 12 partitions, 31 days)
// into a Reader and reports the heap it holds per record and in all, and
// the time to build a report of it (report) and its headline counts
// (headline).
func BenchmarkReaderMemory(b *testing.B) {
	for _, what := range []string{"report", "headline"} {
		b.Run(what, func(b *testing.B) { benchmarkReader(b, what == "headline") })
	}
}

func benchmarkReader(b *testing.B, headline bool) {
	const steps, flows, parts, hours = 10, 5, 12, 31 * 24
	measures := []Measure{MeasureEntered, MeasureSent, MeasureDelivered, MeasureOpened, MeasureExited}[:flows]
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := NewReader(nil)
	for s := range steps {
		for _, m := range measures {
			for h := range int64(hours) {
				for p := range int32(parts) {
					k := outputKey{Cell: Cell{Journey: "abandoned-cart", Version: 3, Step: "step-" + strconv.Itoa(s), Measure: m, Hour: 490000 + h}, Partition: p}
					r.apply(&kgo.Record{Key: k.encode(), Value: []byte("12345")})
				}
			}
		}
	}
	r.ready.Store(true)
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	b.ResetTimer()
	for range b.N {
		var err error
		if headline {
			_, err = r.JourneyCounts(b.Context(), "abandoned-cart")
		} else {
			_, err = r.Journey("abandoned-cart", Query{})
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(held/float64(steps*flows*parts*hours), "heap-B/record")
	b.ReportMetric(held/(1<<20), "heap-MiB")
	runtime.KeepAlive(r)
}
