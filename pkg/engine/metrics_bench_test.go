package engine_test

import (
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/metrics"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// BenchmarkCartEngineMetrics runs BenchmarkCartEngine's workload with the
// metrics off and on (pkg/metrics, as the engine command wires them, and
// scraped as Prometheus would), side by side: compare cpu-µs/event.
func BenchmarkCartEngineMetrics(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			h := newHarnessTB(b)
			if on {
				reg, sm, jm := engineMetrics(b)
				e, err := engine.New(engine.Config{
					Kafka: []kgo.Opt{kgo.SeedBrokers(h.brokers...)}, Topics: h.layout, Codec: h.codec, StateDir: b.TempDir(), InstanceID: "engine-1",
					Group:   h.group,
					Stream:  stream.Options{Clock: h.clock.now, PollWait: 20 * time.Millisecond, Metrics: sm},
					Metrics: jm,
					Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
				})
				if err != nil {
					b.Fatal(err)
				}
				sm.ReportOwned(e.OwnedPartitions)
				if err := metrics.ObserveHealth(reg.Meter(), e); err != nil {
					b.Fatal(err)
				}
				h.engine = e
			}
			cartEngine(b, h)
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
