package telemetry

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// KafkaHooks returns the client option that gives a franz-go client
// OpenTelemetry spans following the messaging semantic conventions
// (kotel: a "publish" span per produced record, a "receive" span per
// fetched one); nil when tracing is off, or Kafka spans are
// (BECKON_TRACE_KAFKA=false), so the client pays nothing.
//
// A record that already carries a traceparent header (a send command
// names its journey step's span) keeps it: the publish span becomes a
// child of that span instead of overwriting the header. Nothing is
// injected into other records either: Beckon's records carry the trace
// context their own semantics give them, not the client's.
func (p *Provider) KafkaHooks(group string) []kgo.Opt {
	if !p.Enabled() || p.noKafka {
		return nil
	}
	topts := []kotel.TracerOpt{kotel.TracerProvider(p.tp), kotel.TracerPropagator(extractOnly{})}
	if group != "" {
		topts = append(topts, kotel.ConsumerGroup(group))
	}
	t := kotel.NewTracer(topts...)
	return []kgo.Opt{kgo.WithHooks(kafkaHooks{t: t})}
}

// kafkaHooks are kotel's tracer hooks, with a produced record's own
// traceparent as the parent of its publish span.
type kafkaHooks struct{ t *kotel.Tracer }

var (
	_ kgo.HookProduceRecordBuffered   = kafkaHooks{}
	_ kgo.HookProduceRecordUnbuffered = kafkaHooks{}
	_ kgo.HookFetchRecordBuffered     = kafkaHooks{}
	_ kgo.HookFetchRecordUnbuffered   = kafkaHooks{}
)

func (h kafkaHooks) OnProduceRecordBuffered(r *kgo.Record) {
	if r.Context == nil {
		r.Context = context.Background()
	}
	if !trace.SpanContextFromContext(r.Context).IsValid() {
		r.Context = extractOnly{}.Extract(r.Context, kotel.NewRecordCarrier(r))
	}
	h.t.OnProduceRecordBuffered(r)
}

func (h kafkaHooks) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	h.t.OnProduceRecordUnbuffered(r, err)
}

func (h kafkaHooks) OnFetchRecordBuffered(r *kgo.Record) { h.t.OnFetchRecordBuffered(r) }

func (h kafkaHooks) OnFetchRecordUnbuffered(r *kgo.Record, polled bool) {
	h.t.OnFetchRecordUnbuffered(r, polled)
}

// extractOnly reads W3C trace context from record headers and writes
// none.
type extractOnly struct{}

func (extractOnly) Inject(context.Context, propagation.TextMapCarrier) {}

func (extractOnly) Extract(ctx context.Context, c propagation.TextMapCarrier) context.Context {
	return propagation.TraceContext{}.Extract(ctx, c)
}

func (extractOnly) Fields() []string { return propagation.TraceContext{}.Fields() }
