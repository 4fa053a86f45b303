package engine_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/metrics"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/telemetry"
	"github.com/beckon-dev/beckon/pkg/telemetry/otlptest"
)

// TestInstanceTraceAcrossDaysAndARestart: an abandoned cart runs for a
// day of virtual time through an engine that exports OTLP/HTTP to a
// receiver decoding the real protocol; half-way the engine stops and
// another, on an empty state directory (the partition moved), restores
// and finishes the journey. The instance has one trace: its entry is the
// root span, linked to the trigger event's span; every step it executed,
// on either engine, is a child span named by its activities and timed by
// them; each wake-up's spans link to the span that armed the timer; each
// send command's traceparent, body and header, names its step's span,
// and the Kafka publish span of the command is a child of it.
func TestInstanceTraceAcrossDaysAndARestart(t *testing.T) {
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
	rcv, tp := otlptest.Tracing(t, "http/protobuf", telemetry.Options{ServiceName: "beckon-engine", UserID: telemetry.UserIDPlain})

	h := newHarness(t)
	for _, text := range [][]byte{readExample(t, "abandoned-cart"), []byte(probeJourney)} {
		if _, err := h.control.Publish(h.ctx, text, records.FormatYAML); err != nil {
			t.Fatal(err)
		}
	}
	x := &example{harness: h, journey: "abandoned-cart", t0: h.clock.now(), probes: map[string]int{}}
	h.produce("profiles", "u1", customer("u1", ""))
	x.users = []string{"u1"}
	stop := runTracedEngine(t, h, tp, "engine-1", t.TempDir())
	x.tap = h.newTap()
	x.waitProfiles()
	emails := h.read("send.email")

	// The trigger comes with its producer's trace context.
	const triggerTrace, triggerSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	b, err := h.codec.Encode(h.ctx, h.topic("events"), records.Event{
		MessageID: "trigger-1", Type: records.EventTrack, Name: "Product Added", UserID: "u1", Timestamp: h.clock.now(),
		Properties: records.JSON(`{"cart_id":"c1","sku":"SH-01","name":"Linen shirt","price":49.9,"quantity":1}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cl.ProduceSync(h.ctx, &kgo.Record{Topic: h.topic("events"), Key: []byte("u1"), Value: b,
		Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-" + triggerTrace + "-" + triggerSpan + "-01")}}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	x.at(time.Hour) // the cart went quiet: the email
	x.wantSends("email", "u1")

	// The engine goes; another, with no local state, takes the partitions.
	stop()
	stop = runTracedEngine(t, h, tp, "engine-2", t.TempDir())
	defer stop()
	x.at(time.Hour + 24*time.Hour) // a day later: the push, and the end
	x.wantSends("push", "u1")
	x.wantCount(1, records.ActivityExited, "completed", "u1", "c1")

	acts := x.activity()
	instID := acts[0].InstanceID
	traceID, rootID := journey.InstanceTrace(instID)
	wantSpans := map[string][]records.Activity{} // span ID -> its activities
	for _, a := range acts {
		if a.InstanceID != instID {
			t.Fatalf("activity of another instance: %+v", a)
		}
		if a.TraceID != traceID {
			t.Fatalf("activity %s %q in trace %s, want the instance's %s", a.Kind, a.Reason, a.TraceID, traceID)
		}
		wantSpans[a.SpanID] = append(wantSpans[a.SpanID], a)
	}
	spans := rcv.WaitFor(t, "a span per step", func(got []otlptest.Span) bool {
		have := map[string]bool{}
		for _, s := range otlptest.Trace(got, traceID) {
			have[s.SpanID] = true
		}
		for id := range wantSpans {
			if !have[id] {
				return false
			}
		}
		return true
	})
	byID := map[string]otlptest.Span{}
	for _, s := range otlptest.Trace(spans, traceID) {
		if _, twice := byID[s.SpanID]; twice {
			t.Errorf("span %s %s exported twice", s.SpanID, s.Name) // exported only once its transaction commits
		}
		byID[s.SpanID] = s
	}

	// The root: the entry, linked to the trigger's span.
	root, ok := byID[rootID]
	if !ok || root.ParentSpanID != "" || root.Name != "journey.enter abandoned-cart" {
		t.Fatalf("root span %+v (found %v)", root, ok)
	}
	if !slices.Contains(root.Links, otlptest.Link{TraceID: triggerTrace, SpanID: triggerSpan}) {
		t.Fatalf("root span links %v, want the trigger's span", root.Links)
	}
	if root.Service != "beckon-engine" || root.Attrs["beckon.user.id"] != "u1" {
		t.Fatalf("root span service %q attributes %v", root.Service, root.Attrs)
	}

	// Every step: a child of the root, with its activities as events, at
	// their times, and linked to what caused it.
	steps := map[string]int{}
	armedAt := map[string]time.Time{} // span ID -> when it ran
	for id, want := range wantSpans {
		s := byID[id]
		armedAt[id] = s.Start
		first, last := want[0], want[len(want)-1]
		if !s.Start.Equal(first.At) || !s.End.Equal(last.At) {
			t.Errorf("span %s %s from %v to %v, want the activities' %v to %v", id, s.Name, s.Start, s.End, first.At, last.At)
		}
		if len(s.Events) != len(want) {
			t.Errorf("span %s %s has %d events, want %d activities", id, s.Name, len(s.Events), len(want))
		}
		a := s.Attrs
		if a["beckon.journey.id"] != "abandoned-cart" || a["beckon.journey.version"] != "1" || a["beckon.instance.id"] != instID ||
			a["beckon.step.id"] != first.StepID || a["beckon.step.outcome"] != string(last.Kind) || a["beckon.step.reason"] != last.Reason {
			t.Errorf("span %s %s attributes %v, want those of %+v", id, s.Name, a, last)
		}
		if id == rootID {
			continue
		}
		steps[first.StepID]++
		if s.ParentSpanID != rootID || s.Name != "journey.step "+first.StepID {
			t.Errorf("step span %s %q has parent %q, want the root %s", id, s.Name, s.ParentSpanID, rootID)
		}
		if len(s.Links) != 1 {
			t.Errorf("step span %s %q links %v, want its cause", id, s.Name, s.Links)
		}
	}
	t.Logf("instance %s: trace %s, %d spans of its steps (%v), %d spans received in all", instID, traceID, len(wantSpans), steps, len(spans))
	for _, step := range []string{"idle-for-an-hour", "anything-left", "email-reminder", "wait-a-day", "still-anything-left", "push-reminder"} {
		if steps[step] == 0 {
			t.Errorf("no span of step %s; spans by step %v", step, steps)
		}
	}
	// The wake-ups: each links to the span that armed its timer, earlier
	// in the same trace. The first at 1h (on engine-1), the second a day
	// later (on engine-2, whose store was restored).
	for id, want := range wantSpans {
		if want[0].Kind != records.ActivityStepCompleted || !strings.Contains(want[0].Reason, "over") && !strings.Contains(want[0].Reason, "timed out") {
			continue
		}
		l := byID[id].Links[0]
		armer, ok := byID[l.SpanID]
		if l.TraceID != traceID || !ok || !armer.Start.Before(byID[id].Start) || armer.Attrs["beckon.step.outcome"] != string(records.ActivityWaiting) {
			t.Errorf("wake-up span %s (%s) links %v, want the waiting span that armed its timer", id, want[0].Reason, l)
		}
	}

	// The send commands name their step's span.
	for _, cmd := range append(x.sends("email"), x.sends("push")...) {
		var sent *records.Activity
		for i := range acts {
			if acts[i].Kind == records.ActivitySent && acts[i].StepID == cmd.StepID {
				sent = &acts[i]
			}
		}
		if sent == nil || cmd.TraceParent != "00-"+traceID+"-"+sent.SpanID+"-01" {
			t.Fatalf("command of step %s has traceparent %q; its step's span is %+v", cmd.StepID, cmd.TraceParent, sent)
		}
		if byID[sent.SpanID].Attrs["beckon.step.id"] != cmd.StepID {
			t.Fatalf("span %s is not of step %s", sent.SpanID, cmd.StepID)
		}
	}
	recs := emails.wait(t, "the email record", func(r []*kgo.Record) bool { return len(r) == 1 })
	header := ""
	for _, hd := range recs[0].Headers {
		if hd.Key == "traceparent" {
			header = string(hd.Value)
		}
	}
	if email := x.sends("email")[0]; header != email.TraceParent {
		t.Fatalf("send record header traceparent %q, body %q", header, email.TraceParent)
	}
	// Kafka client spans: the command's publish span is a child of its
	// step span (kotel, messaging semantic conventions).
	stepOfEmail := telemetry.ParseTraceParent(header).SpanID().String()
	rcv.WaitFor(t, "the email's publish span", func(got []otlptest.Span) bool {
		for _, s := range got {
			if s.Name == h.topic("send.email")+" publish" && s.ParentSpanID == stepOfEmail && s.Attrs["messaging.system"] == "kafka" {
				return true
			}
		}
		return false
	})
	// Not the changelog's records: a restore would cost a span per record.
	// Record keys (user IDs) as BECKON_TRACE_USER_ID says: plain here.
	for _, s := range rcv.Spans() {
		if k, ok := s.Attrs["messaging.kafka.message.key"]; ok && s.Attrs["messaging.destination.name"] == h.topic("send.email") && k != "u1" {
			t.Fatalf("send command span key %q", k)
		}
		if s.Attrs["messaging.destination.name"] == h.topic("changelog.engine") {
			t.Fatalf("a Kafka span of the changelog: %+v", s)
		}
	}
}

// TestWebhookDeliveryJoinsTheInstanceTrace: the engine and the webhook
// sender export to one receiver; the delivery of the command is a span of
// the instance's trace, child of the step that sent it; the endpoint gets
// its traceparent; the step the delivered receipt moves links to it.
func TestWebhookDeliveryJoinsTheInstanceTrace(t *testing.T) {
	rcv, tp := otlptest.Tracing(t, "grpc", telemetry.Options{ServiceName: "beckon"})
	h := newHarness(t)
	h.clock.ns.Store(time.Now().UnixNano()) // the sender checks deadlines against the real clock
	h.crmSync()
	runTracedEngine(t, h, tp, "engine-1", t.TempDir())
	activity := h.read("activity")
	emails := h.read("send.email")
	var mu sync.Mutex
	var requestTP string
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requestTP = r.Header.Get("traceparent")
		mu.Unlock()
	}))
	defer srv.Close()
	stop := h.runSender(srv.URL, tp)
	defer stop()

	h.event("u1", "Signed Up", `{"plan":"pro"}`)
	emails.wait(t, "the email after the delivered receipt", func(recs []*kgo.Record) bool { return len(recs) == 1 })
	acts := activity.wait(t, "the instance's end", func(recs []*kgo.Record) bool {
		return countKind(h.activities(recs), records.ActivityExited, "completed") == 1
	})
	var sent, moved records.Activity
	for _, a := range h.activities(acts) {
		switch {
		case a.Kind == records.ActivitySent && a.StepID == "notify-crm":
			sent = a
		case a.Kind == records.ActivityStepCompleted && a.StepID == "await":
			moved = a
		}
	}
	mu.Lock()
	delivery := telemetry.ParseTraceParent(requestTP)
	mu.Unlock()
	if delivery.TraceID().String() != sent.TraceID || delivery.SpanID().String() == sent.SpanID {
		t.Fatalf("the endpoint got traceparent %q; the command's step span is %s/%s", requestTP, sent.TraceID, sent.SpanID)
	}
	spans := rcv.WaitFor(t, "the delivery span and the receipt's step span", func(got []otlptest.Span) bool {
		n := 0
		for _, s := range got {
			if s.SpanID == delivery.SpanID().String() || s.SpanID == moved.SpanID {
				n++
			}
		}
		return n >= 2
	})
	checked := 0
	for _, s := range otlptest.Trace(spans, sent.TraceID) {
		switch s.SpanID {
		case delivery.SpanID().String():
			checked++
			if s.Name != "webhook deliver" || s.ParentSpanID != sent.SpanID {
				t.Fatalf("delivery span %+v, want a child of the sending step's span %s", s, sent.SpanID)
			}
		case moved.SpanID:
			checked++
			if len(s.Links) != 1 || s.Links[0].SpanID != delivery.SpanID().String() {
				t.Fatalf("the step the receipt moved links %v, want the delivery span %s", s.Links, delivery.SpanID())
			}
		}
	}
	if checked < 2 {
		t.Fatalf("the delivery span and the receipt's step span are not both in the instance's trace %s", sent.TraceID)
	}
}

func readExample(t *testing.T, id string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examplesDir, id+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runTracedEngine runs an engine of h's deployment with tracing tp and
// waits until it is ready; stop ends it (and is safe to call twice).
func runTracedEngine(t *testing.T, h *harness, tp *telemetry.Provider, id, dir string) (stop func()) {
	t.Helper()
	return runEngine(t, h, id, dir, func(c *engine.Config) { c.Tracing = tp })
}

// runEngine runs an engine of h's deployment, configured by set, and
// waits until it is ready; stop ends it (and is safe to call twice).
func runEngine(t *testing.T, h *harness, id, dir string, set func(*engine.Config)) (stop func()) {
	t.Helper()
	cfg := engine.Config{
		Kafka: []kgo.Opt{kgo.SeedBrokers(h.brokers...)}, Topics: h.layout, Codec: h.codec, StateDir: dir, InstanceID: id,
		Group:  h.group,
		Stream: stream.Options{Clock: h.clock.now, PollWait: 20 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	set(&cfg)
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sm, ok := cfg.Stream.Metrics.(*metrics.Stream); ok {
		sm.ReportOwned(e.OwnedPartitions)
	}
	h.engine = e
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	h.waitReady()
	return stop
}
