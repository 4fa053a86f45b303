package engine

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/telemetry"
)

type dropSpans struct{}

func (dropSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (dropSpans) Shutdown(context.Context) error                             { return nil }

// BenchmarkTraceStep is the engine's cost of one step span (a hold reset:
// one activity), with spans made and dropped by the exporter.
func BenchmarkTraceStep(b *testing.B) {
	tp, err := telemetry.New(context.Background(), telemetry.Options{Exporter: dropSpans{}})
	if err != nil {
		b.Fatal(err)
	}
	defer tp.Shutdown(context.Background())
	tr := newTracing(tp)
	traceID, _ := journey.InstanceTrace("inst-1")
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	in := journey.Input{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"}
	fx := journey.Effects{Activities: []records.Activity{{
		ActivityID: "inst-1-7", InstanceID: "inst-1", JourneyID: "abandoned-cart", JourneyVersion: 1, UserID: "user-0001",
		StepID: "idle", Kind: records.ActivityWaiting, Reason: "timer reset by Product Added", At: at, TraceID: traceID, SpanID: "0123456789abcdef",
	}}}
	p := newFakePartition(at) // runs AfterCommit functions at once
	b.ReportAllocs()
	for b.Loop() {
		tr.record(p, "user-0001", in, &fx)
	}
}
