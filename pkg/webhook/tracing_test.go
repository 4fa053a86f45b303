package webhook_test

import (
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/telemetry"
	"github.com/beckon-dev/beckon/pkg/telemetry/otlptest"
	"github.com/beckon-dev/beckon/pkg/webhook"
)

// TestSenderContinuesTheTrace: with tracing on (OTLP/gRPC to a receiver
// decoding the protocol), a command's delivery is a client span, child of
// the span its traceparent names, and the HTTP request carries the
// delivery span's traceparent, in the same trace.
func TestSenderContinuesTheTrace(t *testing.T) {
	rcv, tp := otlptest.Tracing(t, "grpc", telemetry.Options{ServiceName: "beckon-webhook-sender"})

	h := newHarness(t)
	ep, srv := newEndpoint(t)
	start(t, h.sender(srv.URL, func(c *webhook.Config) { c.Tracing = tp }))
	cmd := command("ok-traced", "u1", time.Now().Add(time.Minute))
	cmd.TraceParent = traceparent
	h.produce(kafkatest.Client(t, h.brokers), cmd)
	h.receipts(1)

	ep.mu.Lock()
	sent := ep.traces["ok-traced"]
	ep.mu.Unlock()
	got := telemetry.ParseTraceParent(sent)
	parent := telemetry.ParseTraceParent(traceparent)
	if got.TraceID() != parent.TraceID() || got.SpanID() == parent.SpanID() || !got.IsSampled() {
		t.Fatalf("request traceparent %q: want the command's trace %s, a span of its own", sent, parent.TraceID())
	}
	spans := rcv.WaitFor(t, "the delivery span", func(spans []otlptest.Span) bool {
		for _, s := range spans {
			if s.SpanID == got.SpanID().String() {
				return true
			}
		}
		return false
	})
	for _, s := range spans {
		if s.SpanID != got.SpanID().String() {
			continue
		}
		if s.Name != "webhook deliver" || s.TraceID != parent.TraceID().String() || s.ParentSpanID != parent.SpanID().String() ||
			s.Service != "beckon-webhook-sender" || s.Attrs["beckon.command.id"] != "ok-traced" || s.Attrs["http.response.status_code"] != "200" ||
			s.Attrs["beckon.receipt.status"] != "delivered" {
			t.Fatalf("delivery span %+v", s)
		}
	}
}
