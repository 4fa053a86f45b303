package webhook

import (
	"context"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/telemetry"
)

// The sender continues a command's trace: a delivery span, a child of
// the span the command's traceparent names (the journey step that sent
// it, in the instance's trace), covering every attempt; the requests and
// the receipt carry the delivery span's traceparent, so the endpoint's
// own spans and the engine's handling of the receipt join the same trace.

// startDelivery starts the delivery span of cmd, whose trace context is
// traceparent, and returns the traceparent the request and receipt carry:
// the delivery span's, or traceparent itself when tracing is off.
func (s *Sender) startDelivery(ctx context.Context, cmd records.SendCommand, traceparent string) (context.Context, trace.Span, string) {
	if s.tracer == nil {
		return ctx, nil, traceparent
	}
	if parent := telemetry.ParseTraceParent(traceparent); parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	attrs := []attribute.KeyValue{
		attribute.String("beckon.command.id", cmd.CommandID),
		attribute.String("beckon.journey.id", cmd.JourneyID),
		attribute.String("beckon.instance.id", cmd.InstanceID),
		attribute.String("beckon.step.id", cmd.StepID),
		attribute.String("http.request.method", "POST"),
	}
	if u, err := url.Parse(s.cfg.URL); err == nil {
		attrs = append(attrs, attribute.String("server.address", u.Hostname())) // never the URL: its query may hold a token
	}
	ctx, span := s.tracer.Start(ctx, "webhook deliver", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	if tp := telemetry.TraceParent(span.SpanContext()); tp != "" {
		traceparent = tp
	}
	return ctx, span, traceparent
}

// endDelivery ends the delivery span with the outcome; err is set when the
// delivery was abandoned (a shutdown), to be retried by the next owner.
func endDelivery(span trace.Span, out outcome, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, "abandoned: "+err.Error())
		span.End()
		return
	}
	span.SetAttributes(
		attribute.String("beckon.receipt.status", string(out.status)),
		attribute.Int("beckon.webhook.attempts", out.attempts),
	)
	if out.code != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", out.code))
	}
	if out.status != records.ReceiptDelivered {
		span.SetStatus(codes.Error, out.reason)
	}
	span.End()
}
