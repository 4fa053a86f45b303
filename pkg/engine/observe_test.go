package engine_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/logging"
	"github.com/beckon-dev/beckon/pkg/metrics"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/telemetry"
	"github.com/beckon-dev/beckon/pkg/telemetry/otlptest"
)

var _ engine.ActiveMetrics = (*metrics.Journeys)(nil)

// TestAbortedTransactionExportsEachSpanOnce: a step span is exported when
// the Kafka transaction that made it commits, never before. Two events of
// one user arrive in one batch; the second fails transiently twice, so the
// transactions that processed the first abort, and the third attempt
// commits both. The OTLP receiver gets each step span exactly once.
func TestAbortedTransactionExportsEachSpanOnce(t *testing.T) {
	rcv, tp := otlptest.Tracing(t, "http/protobuf", telemetry.Options{ServiceName: "beckon-engine"})
	h := newHarness(t)
	if _, err := h.control.Publish(h.ctx, []byte(cartJourney), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	h.profile("u1")

	var mu sync.Mutex
	firstSeen, failures, firstBeforeFailure := 0, 0, 0
	engine.SetProcessFault(t, func(m stream.Message) error {
		if m.Kind != stream.KindRecord || m.Topic != h.topic("events") {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		for _, hd := range m.Headers {
			if hd.Key == "test-fault" && failures < 2 {
				failures++
				if firstSeen == failures {
					firstBeforeFailure++
				}
				return stream.Retryable(errors.New("dependency down"))
			}
		}
		firstSeen++
		return nil
	})
	activity := h.read("activity")
	reg, sm, jm := engineMetrics(t)
	runEngine(t, h, "engine-1", t.TempDir(), func(c *engine.Config) { c.Tracing, c.Stream.Metrics, c.Metrics = tp, sm, jm })

	event := func(sku string) []byte {
		b, err := h.codec.Encode(h.ctx, h.topic("events"), records.Event{
			MessageID: "added-" + sku, Type: records.EventTrack, Name: "Product Added", UserID: "u1", Timestamp: h.clock.now(),
			Properties: records.JSON(fmt.Sprintf(`{"cart_id":"c1","sku":%q}`, sku)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// One produce call: one batch, fetched whole into one transaction.
	if err := h.cl.ProduceSync(h.ctx,
		&kgo.Record{Topic: h.topic("events"), Key: []byte("u1"), Value: event("SH-01")},
		&kgo.Record{Topic: h.topic("events"), Key: []byte("u1"), Value: event("SH-02"), Headers: []kgo.RecordHeader{{Key: "test-fault", Value: []byte("yes")}}},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Entered, waiting (the hold starts), then waiting again (reset).
	recs := activity.wait(t, "both events' activities", func(r []*kgo.Record) bool { return len(r) >= 3 })
	acts := h.activities(recs)
	mu.Lock()
	if failures != 2 || firstBeforeFailure != 2 {
		mu.Unlock()
		t.Fatalf("the first event was processed in %d of the %d aborted transactions, want 2 of 2 (it did not share their transaction)", firstBeforeFailure, failures)
	}
	mu.Unlock()

	wantSpans := map[string]bool{}
	for _, a := range acts {
		wantSpans[a.SpanID] = true
	}
	rcv.WaitFor(t, "every step's span", func([]otlptest.Span) bool {
		if err := tp.ForceFlush(h.ctx); err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, s := range rcv.Spans() {
			have[s.SpanID] = true
		}
		for id := range wantSpans {
			if !have[id] {
				return false
			}
		}
		return true
	})
	exported := map[string]int{}
	for _, s := range rcv.Spans() {
		if strings.HasPrefix(s.Name, "journey.") {
			exported[s.SpanID]++
		}
	}
	for id, n := range exported {
		if n != 1 || !wantSpans[id] {
			t.Errorf("span %s exported %d times (of a committed step: %v), want once", id, n, wantSpans[id])
		}
	}
	t.Logf("%d activities in %d step spans, after 2 aborted transactions", len(acts), len(exported))

	// The counts too are of what committed: one entry, two events
	// processed, and the attempts that aborted as retried.
	events := h.topic("events")
	if n := sample(t, reg, `beckon_journey_entries_total{journey="abandoned-cart"}`); n != 1 {
		t.Errorf("entries counted %d, want 1", n)
	}
	if n := sample(t, reg, `beckon_stream_messages_total{kind="record",outcome="processed",topic="`+events+`"}`); n != 2 {
		t.Errorf("events processed %d, want 2", n)
	}
	if n := sample(t, reg, `beckon_stream_messages_total{kind="record",outcome="retried",topic="`+events+`"}`); n != 4 {
		t.Errorf("events retried %d, want 4 (both events in each of 2 aborted transactions)", n)
	}
}

// activeGauge reads beckon_journey_active_instances of journey from reg's
// Prometheus exposition; -1 when there is no such series.
func activeGauge(t *testing.T, reg *metrics.Registry, journey string) int {
	t.Helper()
	return sample(t, reg, `beckon_journey_active_instances{journey="`+journey+`"}`)
}

// sample reads one series (name and labels, as exposed) from reg's
// Prometheus exposition; -1 when there is no such series.
func sample(t *testing.T, reg *metrics.Registry, series string) int {
	t.Helper()
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	prefix := series + " "
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return n
		}
	}
	return -1
}

// engineMetrics is a new registry with the engine's instruments.
func engineMetrics(t testing.TB) (*metrics.Registry, *metrics.Stream, *metrics.Journeys) {
	t.Helper()
	reg, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	sm, jm, err := metrics.ForEngine(reg)
	if err != nil {
		t.Fatal(err)
	}
	return reg, sm, jm
}

// runMeasuredEngine runs an engine of h's deployment with a registry of
// its own, as a new process would, and waits until it is ready.
func runMeasuredEngine(t *testing.T, h *harness, id, dir string) (reg *metrics.Registry, stop func()) {
	t.Helper()
	reg, sm, jm := engineMetrics(t)
	return reg, runEngine(t, h, id, dir, func(c *engine.Config) { c.Stream.Metrics, c.Metrics = sm, jm })
}

// TestActiveInstancesFromStateAcrossARestart: the active-instances gauge
// is the number of running instances in the state of the partitions the
// engine owns: counted from the state when they are restored, moved by
// each committed entry and exit. An engine restarted on its state
// directory, and one restored from the changelog alone, report the
// instances that entered before they started.
func TestActiveInstancesFromStateAcrossARestart(t *testing.T) {
	h := newHarness(t)
	if _, err := h.control.Publish(h.ctx, []byte(cartJourney), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	waitGauge := func(reg *metrics.Registry, want int, what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for got := activeGauge(t, reg, "abandoned-cart"); got != want; got = activeGauge(t, reg, "abandoned-cart") {
			if time.Now().After(deadline) {
				t.Fatalf("%s: active instances %d, want %d", what, got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	activity := h.read("activity")
	dir := t.TempDir()
	reg, stop := runMeasuredEngine(t, h, "engine-1", dir)
	for i := 1; i <= 4; i++ {
		h.event(fmt.Sprintf("u%d", i), "Product Added", fmt.Sprintf(`{"cart_id":"c%d","sku":"SH-01"}`, i))
	}
	waitGauge(reg, 4, "four carts entered")
	h.event("u4", "Order Completed", `{"cart_id":"c4"}`)
	activity.wait(t, "the exit", func(r []*kgo.Record) bool {
		return countKind(h.activities(r), records.ActivityExited, "") == 1
	})
	waitGauge(reg, 3, "one cart ordered")
	stop()

	// A new process on the same state directory: counted from the store
	// before any record is processed, so right when it owns every
	// partition, restored. (Ready alone can come first: the group may
	// still hand the process part of the partitions while the stopped
	// one's membership ends.)
	reg, stop = runMeasuredEngine(t, h, "engine-2", dir)
	waitOwnsAll(t, h)
	if got := activeGauge(t, reg, "abandoned-cart"); got != 3 {
		t.Fatalf("restarted on its state: active instances %d, want 3", got)
	}
	stop()

	// Another with no local state: restored from the changelog.
	reg, _ = runMeasuredEngine(t, h, "engine-3", t.TempDir())
	waitOwnsAll(t, h)
	if got := activeGauge(t, reg, "abandoned-cart"); got != 3 {
		t.Fatalf("restored from the changelog: active instances %d, want 3", got)
	}
	h.event("u5", "Product Added", `{"cart_id":"c5","sku":"SH-01"}`)
	waitGauge(reg, 4, "a fifth cart after the restart")
	h.event("u1", "Order Completed", `{"cart_id":"c1"}`)
	waitGauge(reg, 3, "an order after the restart")
}

// waitOwnsAll waits until h's engine owns and has restored every
// partition of the deployment, and is ready.
func waitOwnsAll(t *testing.T, h *harness) {
	t.Helper()
	events, _ := h.layout.Spec("events")
	partitions := int(events.Partitions)
	deadline := time.Now().Add(30 * time.Second)
	for len(h.engine.Partitions()) != partitions || !h.engine.Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("the engine owns partitions %v of %d within 30s", h.engine.Partitions(), partitions)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedBuffer is a log destination safe for the engine's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the JSON log records written so far.
func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(l.b.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestRuntimeLogsCarryTheRecordsTrace: with tracing on, what the runtime
// and the engine log about a record carries the trace and span IDs of the
// record's receipt span, in the trace its producer started (its
// traceparent header): here the runtime's dead-lettering of an
// undecodable event and the engine's transient failure of another.
func TestRuntimeLogsCarryTheRecordsTrace(t *testing.T) {
	_, tp := otlptest.Tracing(t, "http/protobuf", telemetry.Options{ServiceName: "beckon-engine"})
	h := newHarness(t)
	if _, err := h.control.Publish(h.ctx, []byte(cartJourney), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	failed := false
	var mu sync.Mutex
	engine.SetProcessFault(t, func(m stream.Message) error {
		mu.Lock()
		defer mu.Unlock()
		for _, hd := range m.Headers {
			if hd.Key == "test-fault" && !failed {
				failed = true
				return stream.Retryable(errors.New("dependency down"))
			}
		}
		return nil
	})
	logs := &lockedBuffer{}
	runEngine(t, h, "engine-1", t.TempDir(), func(c *engine.Config) {
		c.Tracing = tp
		c.Logger = logging.New(logs, logging.JSON, slog.LevelInfo)
	})
	const badTrace, flakyTrace = "0af7651916cd43dd8448eb211c80319c", "4bf92f3577b34da6a3ce929d0e0e4736"
	good, err := h.codec.Encode(h.ctx, h.topic("events"), records.Event{
		MessageID: "flaky-1", Type: records.EventTrack, Name: "Product Added", UserID: "u1", Timestamp: h.clock.now(),
		Properties: records.JSON(`{"cart_id":"c1","sku":"SH-01"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cl.ProduceSync(h.ctx,
		&kgo.Record{Topic: h.topic("events"), Key: []byte("u1"), Value: []byte("not an event"),
			Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-" + badTrace + "-b7ad6b7169203331-01")}}},
		&kgo.Record{Topic: h.topic("events"), Key: []byte("u1"), Value: good,
			Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-" + flakyTrace + "-00f067aa0ba902b7-01")}, {Key: "test-fault", Value: []byte("yes")}}},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	h.read("dlq").wait(t, "the dead letter", func(r []*kgo.Record) bool { return len(r) == 1 })
	want := map[string]string{"dead-lettering message": badTrace, "transient failure: the transaction will be retried": flakyTrace}
	deadline := time.Now().Add(20 * time.Second)
	for len(want) > 0 {
		for _, l := range logs.lines(t) {
			msg, _ := l["msg"].(string)
			if trace, ok := want[msg]; ok && l["trace_id"] == trace && len(fmt.Sprint(l["span_id"])) == 16 {
				delete(want, msg)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line %v with its record's trace ID and a span ID in:\n%v", want, logs.lines(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
