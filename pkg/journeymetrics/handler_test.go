package journeymetrics

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// loaded is a Reader holding the given partial counts, ready.
func loaded(partials map[outputKey]int64) *Reader {
	r := NewReader(nil)
	for k, n := range partials {
		r.apply(&kgo.Record{Key: k.encode(), Value: strconv.AppendInt(nil, n, 10)})
	}
	r.ready.Store(true)
	return r
}

func serve(t *testing.T, r *Reader, target string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /v1/journeys/{id}/metrics", Handler(r))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: body %q: %v", target, w.Body.String(), err)
	}
	return w, body
}

// TestHandlerSumsPartitionsAndSelectsTheSeries: partial counts of several
// partitions add up; totals, versions and steps are all time; the hourly
// series follows version, step, from and to; a tombstone removes a
// partial count.
func TestHandlerSumsPartitionsAndSelectsTheSeries(t *testing.T) {
	h0 := hourOf(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	cell := func(v int32, step string, m Measure, reason string, hour int64, p int32) outputKey {
		return outputKey{Cell: Cell{Journey: "cart", Version: v, Step: step, Measure: m, Reason: reason, Hour: hour}, Partition: p}
	}
	r := loaded(map[outputKey]int64{
		cell(1, "email", MeasureSent, "", 0, 0):              3,
		cell(1, "email", MeasureSent, "", 0, 1):              4,
		cell(2, "email", MeasureSent, "", 0, 1):              5,
		cell(1, "email", MeasureSent, "", h0, 0):             3,
		cell(1, "email", MeasureSent, "", h0+1, 1):           4,
		cell(2, "email", MeasureSent, "", h0+1, 1):           5,
		cell(1, "email", MeasureActive, "", 0, 0):            2,
		cell(1, "", MeasureSkipped, "quiet_hours", 0, 2):     6,
		cell(1, "wait", MeasureExited, "completed", 0, 2):    1,
		cell(1, "wait", MeasureExited, "completed", h0, 2):   1,
		{Cell: Cell{Journey: "other", Measure: MeasureSent}}: 100,
	})
	w, body := serve(t, r, "/v1/journeys/cart/metrics")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	totals := body["totals"].(map[string]any)
	if totals["sent"] != 12.0 || totals["active"] != 2.0 || totals["skipped"].(map[string]any)["quiet_hours"] != 6.0 || totals["exited"].(map[string]any)["completed"] != 1.0 {
		t.Errorf("totals %v", totals)
	}
	versions := body["versions"].([]any)
	if len(versions) != 2 || versions[0].(map[string]any)["totals"].(map[string]any)["sent"] != 7.0 || versions[1].(map[string]any)["version"] != 2.0 {
		t.Errorf("versions %v", versions)
	}
	steps := body["steps"].([]any)
	if len(steps) != 3 || steps[0].(map[string]any)["step"] != "" || steps[1].(map[string]any)["counts"].(map[string]any)["sent"] != 12.0 {
		t.Errorf("steps %v", steps)
	}
	hourly := body["hourly"].([]any)
	if len(hourly) != 2 || hourly[0].(map[string]any)["hour"] != "2026-03-02T10:00:00Z" || hourly[1].(map[string]any)["counts"].(map[string]any)["sent"] != 9.0 {
		t.Errorf("hourly %v", hourly)
	}

	_, body = serve(t, r, "/v1/journeys/cart/metrics?version=2&from=2026-03-02T11:00:00Z&to=2026-03-02T12:00:00Z")
	if hourly := body["hourly"].([]any); len(hourly) != 1 || hourly[0].(map[string]any)["counts"].(map[string]any)["sent"] != 5.0 {
		t.Errorf("version 2 from 11:00: hourly %v", hourly)
	}
	_, body = serve(t, r, "/v1/journeys/cart/metrics?step=wait")
	if hourly := body["hourly"].([]any); len(hourly) != 1 || hourly[0].(map[string]any)["counts"].(map[string]any)["exited"].(map[string]any)["completed"] != 1.0 {
		t.Errorf("step wait: hourly %v", hourly)
	}

	r.apply(&kgo.Record{Key: cell(1, "email", MeasureSent, "", 0, 1).encode()})
	if _, body = serve(t, r, "/v1/journeys/cart/metrics"); body["totals"].(map[string]any)["sent"] != 8.0 {
		t.Errorf("after a tombstone: totals %v", body["totals"])
	}
	if _, body = serve(t, r, "/v1/journeys/nothing-yet/metrics"); body["totals"].(map[string]any)["entered"] != 0.0 || len(body["hourly"].([]any)) != 0 {
		t.Errorf("a journey without counts: %v", body)
	}
}

func TestHandlerRefusesBadParameters(t *testing.T) {
	r := loaded(nil)
	for q, field := range map[string]string{
		"version=0": "version", "version=x": "version", "from=yesterday": "from", "to=2026-13-01T00:00:00Z": "to",
		"from=2026-03-02T10:00:00Z&to=2026-03-02T10:00:00Z": "to",
	} {
		w, body := serve(t, r, "/v1/journeys/cart/metrics?"+q)
		if w.Code != http.StatusBadRequest || body["field"] != field || body["reason"] == "" {
			t.Errorf("%s: %d %v, want 400 naming %s", q, w.Code, body, field)
		}
	}
}

func TestHandlerNotReadyIsRetryable(t *testing.T) {
	w, body := serve(t, NewReader(nil), "/v1/journeys/cart/metrics")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || body["error"] == "" {
		t.Errorf("%d %v %v: want 503 with Retry-After", w.Code, w.Header(), body)
	}
	if _, err := NewReader(nil).JourneyCounts(t.Context(), "cart"); err != ErrNotReady {
		t.Errorf("JourneyCounts before loading: %v, want ErrNotReady", err)
	}
}
