package telemetry

import (
	"context"
	"errors"

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
//
// traced, when not nil, picks the topics whose records get spans: a
// state store's changelog or a table read whole on restore would
// otherwise cost a span per record.
func (p *Provider) KafkaHooks(group string, traced func(topic string) bool) []kgo.Opt {
	if !p.Enabled() || p.noKafka {
		return nil
	}
	// Record keys are user IDs: a span carries one as BECKON_TRACE_USER_ID
	// says (hashed, plain, or not at all).
	topts := []kotel.TracerOpt{kotel.TracerProvider(p.tp), kotel.TracerPropagator(extractOnly{}), kotel.KeyFormatter(p.recordKey)}
	if group != "" {
		topts = append(topts, kotel.ConsumerGroup(group))
	}
	t := kotel.NewTracer(topts...)
	return []kgo.Opt{kgo.WithHooks(kafkaHooks{t: t, traced: traced})}
}

// recordKey is a record key as spans show it (messaging.kafka.message.key).
func (p *Provider) recordKey(r *kgo.Record) (string, error) {
	switch p.userID {
	case UserIDPlain:
		return string(r.Key), nil
	case UserIDHashed:
		return hashUser(string(r.Key)), nil
	}
	return "", errOmitted
}

var errOmitted = errors.New("user IDs are omitted from spans")

// kafkaHooks are kotel's tracer hooks, with a produced record's own
// traceparent as the parent of its publish span, for the traced topics.
type kafkaHooks struct {
	t      *kotel.Tracer
	traced func(topic string) bool
}

func (h kafkaHooks) skip(r *kgo.Record) bool { return h.traced != nil && !h.traced(r.Topic) }

var (
	_ kgo.HookProduceRecordBuffered   = kafkaHooks{}
	_ kgo.HookProduceRecordUnbuffered = kafkaHooks{}
	_ kgo.HookFetchRecordBuffered     = kafkaHooks{}
	_ kgo.HookFetchRecordUnbuffered   = kafkaHooks{}
)

func (h kafkaHooks) OnProduceRecordBuffered(r *kgo.Record) {
	if h.skip(r) {
		return
	}
	if r.Context == nil {
		r.Context = context.Background()
	}
	if !trace.SpanContextFromContext(r.Context).IsValid() {
		r.Context = extractOnly{}.Extract(r.Context, kotel.NewRecordCarrier(r))
	}
	h.t.OnProduceRecordBuffered(r)
}

func (h kafkaHooks) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	if h.skip(r) {
		return
	}
	h.t.OnProduceRecordUnbuffered(r, err)
}

func (h kafkaHooks) OnFetchRecordBuffered(r *kgo.Record) {
	if h.skip(r) {
		return
	}
	h.t.OnFetchRecordBuffered(r)
}

func (h kafkaHooks) OnFetchRecordUnbuffered(r *kgo.Record, polled bool) {
	if h.skip(r) {
		return
	}
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
