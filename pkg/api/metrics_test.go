package api_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/journeymetrics"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/kafkatest/servicetest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// walkHour is the hour the walk's journey was entered in: the day before
// yesterday at 10:00 UTC, inside the hourly retention.
func walkHour() time.Time {
	return time.Now().UTC().Truncate(24 * time.Hour).Add(-48*time.Hour + 10*time.Hour)
}

// countedMetrics runs the journey metrics processor on brokers over a
// small history of the journey "walk" (u1 entered at step hello, was sent
// an email there that was delivered and opened, and completed an hour
// later; u2's entry was skipped by quiet hours) and returns a Reader that
// has counted all of it, as the api service runs one, with the journeys
// topic of the same deployment.
func countedMetrics(t *testing.T, brokers []string) (r *journeymetrics.Reader, journeysTopic string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cl := kafkatest.Client(t, brokers)
	prefix := servicetest.Provision(t, cl, 1)
	layout := layoutOf(t, prefix, 1)
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	kopts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	p, err := journeymetrics.New(journeymetrics.Config{Topics: layout, Codec: cd, Group: prefix + "metrics"})
	if err != nil {
		t.Fatal(err)
	}
	run, err := stream.New(p.Group(), stream.Options{Kafka: kopts, Logger: log, InstanceID: "metrics-1", StateDir: t.TempDir(), PollWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- run.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	})

	produce := func(base string, r records.Record) {
		t.Helper()
		s, _ := layout.Spec(base)
		b, err := cd.Encode(ctx, s.Name, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: s.Name, Key: []byte(r.Key()), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	h := walkHour()
	act := func(id, user, step string, kind records.ActivityKind, reason string, at time.Time, details string) records.Activity {
		return records.Activity{ActivityID: id, InstanceID: "walk-" + user, JourneyID: "walk", JourneyVersion: 1, UserID: user,
			StepID: step, Kind: kind, Reason: reason, At: at, Details: records.JSON(details)}
	}
	produce("activity", act("walk-u1-1", "u1", "hello", records.ActivityEntered, "", h, `{}`))
	produce("activity", act("walk-u1-2", "u1", "hello", records.ActivitySent, "", h.Add(time.Minute), `{"command_id":"c1"}`))
	for _, st := range []records.ReceiptStatus{records.ReceiptDelivered, records.ReceiptOpened} {
		produce("receipts", records.Receipt{ReceiptID: "r-" + string(st), CommandID: "c1", UserID: "u1", Channel: "email", Status: st, OccurredAt: h.Add(2 * time.Minute)})
	}
	produce("activity", act("walk-u1-3", "u1", "hello", records.ActivityExited, "completed", h.Add(time.Hour), `{}`))
	skipped := act("walk-u2-skip", "u2", "", records.ActivitySkipped, "quiet_hours", h.Add(time.Hour), `{}`)
	skipped.InstanceID = "" // refused before any instance existed
	produce("activity", skipped)

	r = journeymetrics.NewReader(log)
	topic, err := journeymetrics.TopicOf(layout)
	if err != nil {
		t.Fatal(err)
	}
	followed := make(chan error, 1)
	go func() { followed <- r.Follow(ctx, kopts, topic) }()
	t.Cleanup(func() {
		cancel()
		if err := <-followed; err != nil {
			t.Error(err)
		}
	})
	deadline := time.Now().Add(time.Minute)
	for { // polls the condition: the reader has counted the whole history
		rep, err := r.Journey("walk", journeymetrics.Query{})
		if err == nil && rep.Totals.Opened == 1 && rep.Totals.Exited["completed"] == 1 && rep.Totals.Skipped["quiet_hours"] == 1 {
			journeys, _ := layout.Spec("journeys")
			return r, journeys.Name
		}
		if time.Now().After(deadline) {
			t.Fatalf("the metrics were not counted within a minute: %+v, %v", rep, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkWalkMetrics checks the counts of the walk's history as served:
// totals, per version, per step and per hour, and the series selection.
func checkWalkMetrics(t *testing.T, h *harness) {
	t.Helper()
	body := h.expect(200, "GET", "/v1/journeys/walk/metrics", h.read, "", "").body.(map[string]any)
	obj := func(v any) map[string]any { return v.(map[string]any) }
	counts := func(c map[string]any, want map[string]float64) {
		t.Helper()
		for k, n := range want {
			if c[k] != n {
				t.Errorf("%s: %v, want %v (in %v)", k, c[k], n, c)
			}
		}
	}
	if body["journeyId"] != "walk" {
		t.Errorf("journeyId %v", body["journeyId"])
	}
	totals := obj(body["totals"])
	counts(totals, map[string]float64{"entered": 1, "active": 0, "sent": 1, "delivered": 1, "opened": 1, "clicked": 0, "converted": 0})
	counts(obj(totals["exited"]), map[string]float64{"completed": 1})
	counts(obj(totals["skipped"]), map[string]float64{"quiet_hours": 1})

	versions := body["versions"].([]any)
	if len(versions) != 1 || obj(versions[0])["version"] != 1.0 {
		t.Fatalf("versions %v", versions)
	}
	counts(obj(obj(versions[0])["totals"]), map[string]float64{"entered": 1, "sent": 1, "opened": 1})

	steps := body["steps"].([]any)
	if len(steps) != 2 || obj(steps[0])["step"] != "" || obj(steps[1])["step"] != "hello" {
		t.Fatalf("steps %v", steps)
	}
	counts(obj(obj(obj(steps[0])["counts"])["skipped"]), map[string]float64{"quiet_hours": 1})
	hello := obj(obj(steps[1])["counts"])
	counts(hello, map[string]float64{"entered": 1, "sent": 1, "delivered": 1, "opened": 1, "active": 0})
	counts(obj(hello["exited"]), map[string]float64{"completed": 1})

	hourly := body["hourly"].([]any)
	first, second := walkHour().Format(time.RFC3339), walkHour().Add(time.Hour).Format(time.RFC3339)
	if len(hourly) != 2 || obj(hourly[0])["hour"] != first || obj(hourly[1])["hour"] != second {
		t.Fatalf("hourly %v, want %s and %s", hourly, first, second)
	}
	counts(obj(obj(hourly[0])["counts"]), map[string]float64{"entered": 1, "sent": 1, "delivered": 1, "opened": 1})
	counts(obj(obj(obj(hourly[1])["counts"])["exited"]), map[string]float64{"completed": 1})

	// The query selects the series; totals stay all time.
	sel := h.expect(200, "GET", "/v1/journeys/walk/metrics?version=1&step=hello&from="+second+"&to="+walkHour().Add(2*time.Hour).Format(time.RFC3339), h.read, "", "").body.(map[string]any)
	if hourly := sel["hourly"].([]any); len(hourly) != 1 || obj(hourly[0])["hour"] != second {
		t.Errorf("the series of step hello from %s: %v", second, hourly)
	}
	counts(obj(sel["totals"]), map[string]float64{"entered": 1})
	if sel := h.expect(200, "GET", "/v1/journeys/walk/metrics?version=2", h.read, "", "").body.(map[string]any); len(sel["hourly"].([]any)) != 0 {
		t.Errorf("the series of version 2, which nobody entered: %v", sel["hourly"])
	}

	// A journey the API knows that nobody entered: zeros, not 404.
	fresh := h.expect(200, "GET", "/v1/journeys/fresh/metrics", h.read, "", "").body.(map[string]any)
	counts(obj(fresh["totals"]), map[string]float64{"entered": 0, "sent": 0})
	if len(fresh["versions"].([]any))+len(fresh["steps"].([]any))+len(fresh["hourly"].([]any)) != 0 {
		t.Errorf("a journey nobody entered: %v", fresh)
	}
}

// TestMetricsErrors: an unknown journey is 404; bad parameters are 400
// naming the parameter; while the metrics topic is being read, 503 with
// Retry-After. Every body is checked against the document.
func TestMetricsErrors(t *testing.T) {
	h := startAPI(t, nil, journeymetrics.NewReader(nil)) // never follows: never loads
	if r := h.expect(404, "GET", "/v1/journeys/nope/metrics", h.read, "", ""); r.field("error").(map[string]any)["code"] != "not_found" {
		t.Errorf("an unknown journey: %s", r.raw)
	}
	h.expect(201, "POST", "/v1/journeys", h.write, yamlType, walk)
	r := h.expect(503, "GET", "/v1/journeys/walk/metrics", h.read, "", "")
	if r.header.Get("Retry-After") == "" || r.field("error").(map[string]any)["code"] != "unavailable" {
		t.Errorf("metrics still loading: %v %s", r.header, r.raw)
	}
	for q, field := range map[string]string{
		"version=0": "version", "version=x": "version", "from=yesterday": "from", "to=2026-13-01T00:00:00Z": "to",
		"from=2026-03-02T10:00:00Z&to=2026-03-02T10:00:00Z": "to",
	} {
		r := h.expect(400, "GET", "/v1/journeys/walk/metrics?"+q, h.read, "", "")
		if fs := fieldsOf(t, r); len(fs) != 1 || fs[0].Path != field || fs[0].Reason == "" {
			t.Errorf("%s: fields %+v, want one naming %s with a reason", q, fs, field)
		}
	}
	// Without a counts source, counts are absent, not zeros.
	for _, j := range h.expect(200, "GET", "/v1/journeys", h.read, "", "").field("journeys").([]any) {
		if _, ok := j.(map[string]any)["counts"]; ok {
			t.Fatalf("counts shown without a source: %v", j)
		}
	}
}

// Without a metrics source the route is not mounted.
func TestMetricsRouteNeedsASource(t *testing.T) {
	mounted := func(j *api.Journeys) bool {
		s, err := api.New(api.Options{})
		if err != nil {
			t.Fatal(err)
		}
		j.Mount(s)
		for _, r := range s.Routes() {
			if r.Method == "GET" && r.Pattern == "/v1/journeys/{id}/metrics" && r.Role == api.Read {
				return true
			}
		}
		return false
	}
	if mounted(&api.Journeys{}) {
		t.Error("mounted without a source")
	}
	if !mounted(&api.Journeys{Metrics: journeymetrics.NewReader(nil)}) {
		t.Error("not mounted (read role) with a source")
	}
}
