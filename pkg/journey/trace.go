package journey

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"strconv"
)

// Every instance has a trace of its own: its trace ID is derived from the
// instance ID, its root span (the entry) takes the trace ID's first half
// as span ID, and each step it executes on one input is a span whose ID
// hashes the instance ID and the instance's activity sequence number at
// that step. The IDs are a function of the state, so a replayed input, a
// restarted engine or another engine that took the partition over names
// the same spans; the engine turns them into OpenTelemetry spans from the
// activities (which carry them), and a send command names its step's span
// in its traceparent.

// InstanceTrace returns the W3C trace ID (32 hex digits) of the instance
// with this ID and the span ID (16 hex digits) of its root, the entry.
func InstanceTrace(instanceID string) (traceID, rootSpanID string) {
	h := sha256.Sum256([]byte("beckon-trace:" + instanceID))
	if binary.BigEndian.Uint64(h[:8]) == 0 {
		h[7] = 1 // a span ID is never all zeros
	}
	traceID = hex.EncodeToString(h[:16])
	return traceID, traceID[:16]
}

// RootSpanOf returns the root span ID of the instance trace traceID.
func RootSpanOf(traceID string) string {
	if len(traceID) != 32 {
		return ""
	}
	return traceID[:16]
}

// stepSpanID is the span of the step an instance executes at activity
// sequence number seq.
func stepSpanID(instanceID string, seq int) string {
	h := fnv.New64a()
	h.Write([]byte(instanceID))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, int64(seq), 10))
	v := h.Sum64()
	if v == 0 {
		v = 1
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return hex.EncodeToString(b[:])
}

// stepSpan is a span an Apply call opened for an instance.
type stepSpan struct {
	inst *Instance
	step string
	root bool
	id   string
}

// span returns the span the instance's next activity belongs to: the
// root for its entry, else the span of the step it is at, opened on the
// first activity of that step in this Apply call. An instance stored
// before instances had traces of their own (its trace was its trigger's)
// gets its own trace here.
func (a *applier) span(inst *Instance, entered bool) string {
	if len(inst.TraceID) != 32 || inst.SpanID != inst.TraceID[:16] {
		inst.TraceID, inst.SpanID = InstanceTrace(inst.ID)
	}
	if entered {
		a.spans = append(a.spans, stepSpan{inst: inst, root: true, id: inst.SpanID})
		return inst.SpanID
	}
	if n := len(a.spans); n > 0 {
		if s := a.spans[n-1]; s.inst == inst && !s.root && s.step == inst.Step {
			return s.id
		}
	}
	id := stepSpanID(inst.ID, inst.Seq)
	a.spans = append(a.spans, stepSpan{inst: inst, step: inst.Step, id: id})
	return id
}

// traceParent is the W3C traceparent of span id in inst's trace.
func traceParent(inst *Instance, id string) string {
	return "00-" + inst.TraceID + "-" + id + "-01"
}

// traceTimers gives each timer armed its traceparent: that of the last
// span of its instance in this Apply call (the step that armed it), else,
// for a timer re-armed by its own wake-up with no step run, the fired
// timer's.
func (a *applier) traceTimers() {
	for i := range a.fx.Timers {
		t := &a.fx.Timers[i]
		if t.At.IsZero() {
			continue
		}
		for j := len(a.spans) - 1; j >= 0; j-- {
			if s := a.spans[j]; s.inst.ID == t.Instance {
				t.TraceParent = traceParent(s.inst, s.id)
				break
			}
		}
		if t.TraceParent == "" && a.in.Wake == t.Instance && a.in.TraceID != "" && a.in.SpanID != "" {
			t.TraceParent = "00-" + a.in.TraceID + "-" + a.in.SpanID + "-01"
		}
	}
}
