package journey

import (
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// TestInstanceHasItsOwnTrace: an instance's trace is its own, derived from
// its ID; the entry is the root span; each step it executes on an input
// is a span of that trace (the activities of the step share it); the
// timer a step arms carries that step's traceparent; the send command
// names the span of its step.
func TestInstanceHasItsOwnTrace(t *testing.T) {
	s := newScenario(t, cartJourney)
	fx := s.event("Product Added", `{"cart_id":"c1","sku":"A"}`) // input traceparent 4bf92f35...
	inst := s.u.Instances[0]
	traceID, root := InstanceTrace(inst.ID)
	if inst.TraceID != traceID || inst.SpanID != root || traceID == "4bf92f3577b34da6a3ce929d0e0e4736" || RootSpanOf(traceID) != root {
		t.Fatalf("instance trace %s/%s, want its own %s/%s", inst.TraceID, inst.SpanID, traceID, root)
	}
	if len(fx.Activities) != 2 || fx.Activities[0].Kind != records.ActivityEntered || fx.Activities[0].SpanID != root {
		t.Fatalf("entry activities %+v, want entered (root span) then waiting", fx.Activities)
	}
	waiting := fx.Activities[1].SpanID
	if waiting == root || len(waiting) != 16 {
		t.Fatalf("the hold's span %q", waiting)
	}
	if len(fx.Timers) != 1 || fx.Timers[0].TraceParent != "00-"+traceID+"-"+waiting+"-01" {
		t.Fatalf("timers %+v, want one armed by span %s", fx.Timers, waiting)
	}

	s.after(2 * time.Hour) // the hold times out, the reminder goes, the instance ends
	if len(s.sends) != 1 {
		t.Fatalf("%d sends", len(s.sends))
	}
	spans := map[string]string{} // span -> step
	for _, a := range s.activities {
		if a.TraceID != traceID {
			t.Fatalf("activity %s %q in trace %s, want %s", a.Kind, a.Reason, a.TraceID, traceID)
		}
		if step, ok := spans[a.SpanID]; ok && step != a.StepID {
			t.Fatalf("span %s holds steps %s and %s", a.SpanID, step, a.StepID)
		}
		spans[a.SpanID] = a.StepID
	}
	// root, idle waiting, idle timed out, remind (sent and completed)
	if len(spans) != 4 {
		t.Fatalf("spans %v, want 4", spans)
	}
	last := s.activities[len(s.activities)-1]
	sent := s.activities[len(s.activities)-2]
	if sent.Kind != records.ActivitySent || last.Kind != records.ActivityExited || sent.SpanID != last.SpanID {
		t.Fatalf("the send step's activities %+v %+v should share a span", sent, last)
	}
	if want := "00-" + traceID + "-" + sent.SpanID + "-01"; s.sends[0].TraceParent != want {
		t.Fatalf("command traceparent %q, want %q", s.sends[0].TraceParent, want)
	}
}

// TestSendWithoutTriggerTraceStillHasTraceParent: a trigger with no trace
// context still gives the command a traceparent (the instance's trace).
func TestSendWithoutTriggerTraceStillHasTraceParent(t *testing.T) {
	s := newScenario(t, cartJourney)
	s.seq++
	s.apply(Input{Event: &records.Event{MessageID: "m-no-trace", Type: records.EventTrack, Name: "Product Added", UserID: "u1", Timestamp: s.now, Properties: records.JSON(`{"cart_id":"c1","sku":"A"}`)}})
	s.after(time.Hour)
	if len(s.sends) != 1 || len(s.sends[0].TraceParent) != 55 {
		t.Fatalf("sends %+v", s.sends)
	}
}

// TestInstanceStoredWithTriggerTraceGetsItsOwn: an instance stored when
// its trace was its trigger's moves to a trace of its own at its next
// step.
func TestInstanceStoredWithTriggerTraceGetsItsOwn(t *testing.T) {
	s := newScenario(t, cartJourney)
	s.event("Product Added", `{"cart_id":"c1","sku":"A"}`)
	inst := s.u.Instances[0]
	inst.TraceID, inst.SpanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	s.after(2 * time.Hour)
	traceID, _ := InstanceTrace(inst.ID)
	if len(s.sends) != 1 || s.sends[0].TraceParent[3:35] != traceID {
		t.Fatalf("sends %+v, want them in trace %s", s.sends, traceID)
	}
}
