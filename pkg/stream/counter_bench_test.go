package stream_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/bench"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
)

// BenchmarkCounter runs the runtime's exactly-once per-user counter in
// this process: b.N events over 10,000 users on 6 partitions, from produce
// until every output is visible to a read_committed consumer. The
// side-by-side figures (the plain pipe, goka, latency, restore, timers)
// come from cmd/streambench; see docs/benchmarks.md.
func BenchmarkCounter(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	p := kafkatest.Prefix(b)
	in, out, changelog, dlq := p+"events", p+"out", p+"changelog", p+"dlq"
	kafkatest.CreateTopics(b, brokers, 6, in, out, changelog, dlq)

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- bench.RunStream(ctx, bench.StreamConfig{
			Brokers: brokers, Group: p + "counter", Input: in, Output: out, Changelog: changelog, DeadLetter: dlq,
			StateDir: b.TempDir(), Partitions: 6, Ready: func() { close(ready) },
		}, bench.CounterProcessor(out))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		b.Fatalf("runner stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		b.Fatal("runner not ready within 30s")
	}
	w, err := bench.Watch(brokers, out, func(*kgo.Record, time.Time) {})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	plan := bench.NewPlan(b.N, 10_000, 1)
	producer := kafkatest.Client(b, brokers)

	b.ResetTimer()
	if err := plan.Produce(ctx, producer, in); err != nil {
		b.Fatal(err)
	}
	waitCtx, stop := context.WithTimeout(ctx, 5*time.Minute)
	defer stop()
	if _, err := w.WaitFor(waitCtx, b.N); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
