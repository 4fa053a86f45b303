package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/beckon-dev/beckon/pkg/telemetry"
	"github.com/beckon-dev/beckon/pkg/telemetry/otlptest"
)

// The tracing comparison: the throughput run once per tracing mode, the
// modes alternating over rounds, so that their costs are measured side by
// side on the same (shared) machine:
//   - off: no provider (what a deployment without OTEL_* variables runs);
//   - noop: spans made (the engine's step spans and the Kafka client's)
//     and dropped by an exporter that does nothing;
//   - steps: noop without the Kafka client's spans (BECKON_TRACE_KAFKA=false);
//   - otlp: spans exported over OTLP/gRPC to a receiver in this process
//     that decodes and counts them.

type tracingConfig struct {
	modes  string
	rounds int
}

func tracingFlags(fs *flag.FlagSet) *tracingConfig {
	c := &tracingConfig{}
	fs.StringVar(&c.modes, "tracing", "", "compare the throughput run over tracing modes instead, e.g. off,noop,otlp")
	fs.IntVar(&c.rounds, "tracing-rounds", 2, "rounds of the tracing comparison (the modes alternate)")
	return c
}

// childTracing is the engine child's tracing for mode.
func childTracing(ctx context.Context, mode string) (*telemetry.Provider, error) {
	switch mode {
	case "off":
		return telemetry.Off(), nil
	case "noop", "steps":
		return telemetry.New(ctx, telemetry.Options{ServiceName: "enginebench", Exporter: dropSpans{}, NoKafkaSpans: mode == "steps"})
	case "otlp":
		return telemetry.FromEnv(ctx, "enginebench")
	}
	return nil, fmt.Errorf("tracing mode %q: want off, noop, steps or otlp", mode)
}

// dropSpans is an exporter that drops what it is given.
type dropSpans struct{}

func (dropSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (dropSpans) Shutdown(context.Context) error                             { return nil }

type tracingRun struct {
	mode  string
	took  time.Duration
	cpu   time.Duration
	rss   int64
	spans int
}

func runTracing(ctx context.Context, seeds []string, broker string, c config, tc tracingConfig) int {
	modes := strings.Split(tc.modes, ",")
	rcv, err := otlptest.Listen(false)
	if err != nil {
		logger.Print(err)
		return 1
	}
	defer rcv.Close()
	// The children read these in otlp mode only.
	os.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.GRPCEndpoint)
	os.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	work, err := os.MkdirTemp("", "enginebench-tracing-")
	if err != nil {
		logger.Print(err)
		return 1
	}
	defer os.RemoveAll(work)
	start := time.Now()
	var runs []tracingRun
	for round := range tc.rounds {
		for _, mode := range modes {
			r, err := tracingThroughput(ctx, seeds, c, work, mode, round, rcv)
			if err != nil {
				logger.Print(err)
				return 1
			}
			logger.Printf("tracing %s, round %d: %d events in %v, CPU %v, %d spans exported", mode, round+1, c.events, r.took.Round(time.Millisecond), r.cpu.Round(time.Millisecond), r.spans)
			runs = append(runs, r)
		}
	}
	out := tracingMarkdown(broker, c, tc, start, modes, runs)
	return c.print(out)
}

func tracingThroughput(ctx context.Context, seeds []string, c config, work, mode string, round int, rcv *otlptest.Receiver) (tracingRun, error) {
	d, err := deploy(ctx, seeds, c.partitions, cartJourney)
	if err != nil {
		return tracingRun{}, err
	}
	defer d.cl.Close()
	if err := d.produceCarts(ctx, c.events, c.users); err != nil {
		return tracingRun{}, err
	}
	before := rcv.Count()
	took, u, err := d.consumeAll(ctx, filepath.Join(work, fmt.Sprintf("%s-%d", mode, round)), c.events, "-tracing", mode)
	if err != nil {
		return tracingRun{}, fmt.Errorf("tracing %s: %w", mode, err)
	}
	// The child flushed its spans as it stopped.
	return tracingRun{mode: mode, took: took, cpu: u.CPU, rss: u.PeakRSS, spans: rcv.Count() - before}, nil
}

func tracingMarkdown(broker string, c config, tc tracingConfig, start time.Time, modes []string, runs []tracingRun) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("Tracing comparison, %s on %s: %d Product Added events over %d users × 2 carts per run, %d rounds, modes alternating; %v in all.\n\n",
		start.UTC().Format("2006-01-02 15:04 MST"), broker, c.events, c.users, tc.rounds, time.Since(start).Round(time.Second))
	w("| tracing | events/s per round | engine CPU per event per round | median CPU per event | vs off | peak RSS | spans exported per event |\n|---|---|---|---:|---:|---:|---:|\n")
	var offCPU float64
	for _, m := range modes {
		var tputs, cpus []string
		var perEvent []float64
		var rss int64
		spans := 0
		for _, r := range runs {
			if r.mode != m {
				continue
			}
			tputs = append(tputs, fmt.Sprintf("%.0f", float64(c.events)/r.took.Seconds()))
			us := float64(r.cpu.Microseconds()) / float64(c.events)
			perEvent = append(perEvent, us)
			cpus = append(cpus, fmt.Sprintf("%.1f µs", us))
			rss = max(rss, r.rss)
			spans += r.spans
		}
		med := median(perEvent)
		if m == "off" {
			offCPU = med
		}
		ratio := "–"
		if offCPU > 0 {
			ratio = fmt.Sprintf("%.2f×", med/offCPU)
		}
		w("| %s | %s | %s | %.1f µs | %s | %d MiB | %.2f |\n", m, strings.Join(tputs, ", "), strings.Join(cpus, ", "), med, ratio, rss>>20, float64(spans)/float64(c.events*len(perEvent)))
	}
	w("\n")
	return b.String()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
