package telemetry

import (
	"strconv"

	"go.opentelemetry.io/otel/trace"
)

// ParseTraceParent reads a W3C traceparent ("00-<trace id>-<span
// id>-<flags>") into a remote span context; invalid (IsValid false) when
// it is empty or malformed.
func ParseTraceParent(s string) trace.SpanContext {
	if len(s) != 55 || s[0:3] != "00-" || s[35] != '-' || s[52] != '-' {
		return trace.SpanContext{}
	}
	tid, err := trace.TraceIDFromHex(s[3:35])
	if err != nil {
		return trace.SpanContext{}
	}
	sid, err := trace.SpanIDFromHex(s[36:52])
	if err != nil {
		return trace.SpanContext{}
	}
	f, err := strconv.ParseUint(s[53:55], 16, 8)
	if err != nil {
		return trace.SpanContext{}
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(f) & trace.FlagsSampled, Remote: true})
}

// TraceParent formats a span context as a W3C traceparent; "" when it is
// not valid.
func TraceParent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	flags := "00"
	if sc.IsSampled() {
		flags = "01"
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + flags
}
