package engine

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/telemetry"
)

// tracing turns what the journey semantics did into spans of the
// instances' traces. The semantics name the spans (journey.InstanceTrace:
// the IDs are derived from the instance, so every step joins the one
// trace whichever engine runs it, however much later); the activities of
// an Apply call carry them, grouped by span, with the times they happened
// (the engine's clock, virtual in tests). The spans are built and
// exported once the input's Kafka transaction has committed
// (stream.Context.AfterCommit): a transaction that aborts exports none, and
// its retry exports each span once.
type tracing struct {
	p      *telemetry.Provider
	tracer trace.Tracer
}

// newTracing returns nil when tracing is off, so the processor's hook is
// one nil check.
func newTracing(p *telemetry.Provider) *tracing {
	if !p.Enabled() {
		return nil
	}
	return &tracing{p: p, tracer: p.Tracer("github.com/beckon-dev/beckon/pkg/engine")}
}

// traced says which topics' records get Kafka client spans: the inputs
// and outputs of journeys (events, receipts, send commands, activity,
// hand-offs, dead letters), not the changelog or the tables, which are
// read whole on restore.
func (t engineTopics) traced(topic string) bool {
	switch topic {
	case t.events, t.receipts, t.activity, t.handoff, t.dlq:
		return true
	}
	for _, s := range t.send {
		if s == topic {
			return true
		}
	}
	return false
}

// Span attribute keys.
const (
	attrJourney = attribute.Key("beckon.journey.id")
	attrVersion = attribute.Key("beckon.journey.version")
	attrInst    = attribute.Key("beckon.instance.id")
	attrStep    = attribute.Key("beckon.step.id")
	attrOutcome = attribute.Key("beckon.step.outcome")
	attrReason  = attribute.Key("beckon.step.reason")
)

// record makes a span of each step the input moved an instance through:
// the entry span is the root of the instance's trace, each step span its
// child; each links to the span of the input that caused it (the
// traceparent of the event or receipt, or of the step that armed the
// timer). Each activity is an event of its span. A send command whose
// trace the sampler drops says so in its traceparent's flags, at once
// (the command is produced in the transaction); the spans are made when
// the transaction commits.
func (t *tracing) record(c partition, user string, in journey.Input, fx *journey.Effects) {
	if acts := fx.Activities; len(acts) > 0 {
		// Nothing changes the activities after Apply: the emitted records
		// are encodings of them.
		cause := inputSpan(in)
		c.AfterCommit(func() { t.spans(user, cause, acts) })
	}
	for i := range fx.Sends {
		s := &fx.Sends[i]
		if sc := telemetry.ParseTraceParent(s.TraceParent); sc.IsValid() && !t.p.Sampled(sc.TraceID()) {
			s.TraceParent = s.TraceParent[:53] + "00"
		}
	}
}

// spans exports the span of each step the activities of one input tell.
func (t *tracing) spans(user string, cause trace.SpanContext, acts []records.Activity) {
	var links []trace.Link
	if cause.IsValid() {
		links = []trace.Link{{SpanContext: cause}}
	}
	userAttr, withUser := t.p.UserAttribute(user)
	for i := 0; i < len(acts); {
		j := i + 1
		for j < len(acts) && acts[j].InstanceID == acts[i].InstanceID && acts[j].SpanID == acts[i].SpanID {
			j++
		}
		if acts[i].InstanceID != "" {
			t.span(acts[i:j], links, userAttr, withUser)
		}
		i = j
	}
}

// span exports the span of one step: acts are its activities, in order.
func (t *tracing) span(acts []records.Activity, links []trace.Link, userAttr attribute.KeyValue, withUser bool) {
	first, last := &acts[0], &acts[len(acts)-1]
	tid, err := trace.TraceIDFromHex(first.TraceID)
	if err != nil {
		return
	}
	sid, err := trace.SpanIDFromHex(first.SpanID)
	if err != nil {
		return
	}
	rootID, err := trace.SpanIDFromHex(journey.RootSpanOf(first.TraceID))
	if err != nil {
		return
	}
	ctx := telemetry.WithIDs(context.Background(), tid, sid)
	name := "journey.step " + first.StepID
	if sid == rootID {
		name = "journey.enter " + first.JourneyID
	} else {
		var flags trace.TraceFlags
		if t.p.Sampled(tid) {
			flags = trace.FlagsSampled
		}
		ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: rootID, TraceFlags: flags, Remote: true}))
	}
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs,
		attrJourney.String(first.JourneyID), attrVersion.Int(int(first.JourneyVersion)), attrInst.String(first.InstanceID),
		attrStep.String(first.StepID), attrOutcome.String(string(last.Kind)), attrReason.String(last.Reason))
	if withUser {
		attrs = append(attrs, userAttr)
	}
	_, span := t.tracer.Start(ctx, name, trace.WithTimestamp(first.At), trace.WithLinks(links...), trace.WithAttributes(attrs...))
	if !span.IsRecording() {
		span.End()
		return
	}
	for k := range acts {
		a := &acts[k]
		span.AddEvent(string(a.Kind), trace.WithTimestamp(a.At), trace.WithAttributes(attrReason.String(a.Reason), attribute.String("beckon.activity.id", a.ActivityID)))
		if a.Kind == records.ActivityError {
			span.SetStatus(codes.Error, a.Reason)
		}
	}
	span.End(trace.WithTimestamp(last.At))
}

// inputSpan is the span context of the record that caused the input.
func inputSpan(in journey.Input) trace.SpanContext {
	if in.TraceID == "" || in.SpanID == "" {
		return trace.SpanContext{}
	}
	return telemetry.ParseTraceParent("00-" + in.TraceID + "-" + in.SpanID + "-01")
}

// timerTrace reads the trace context a timer's payload carries: the
// traceparent of the step span that armed it.
func timerTrace(payload []byte) (traceID, spanID string) {
	if len(payload) != 55 {
		return "", ""
	}
	sc := telemetry.ParseTraceParent(string(payload))
	if !sc.IsValid() {
		return "", ""
	}
	return sc.TraceID().String(), sc.SpanID().String()
}
