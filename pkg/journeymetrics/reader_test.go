package journeymetrics

import (
	"encoding/json"
	"strconv"
	"strings"
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

// report returns a journey's report as the API serves it: JSON, decoded.
func report(t *testing.T, r *Reader, journey string, q Query) map[string]any {
	t.Helper()
	rep, err := r.Journey(journey, q)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	return body
}

// TestReaderSumsPartitionsAndSelectsTheSeries: partial counts of several
// partitions add up; totals, versions and steps are all time; the hourly
// series follows version, step, from and to; a tombstone removes a
// partial count; the JSON names are camelCase.
func TestReaderSumsPartitionsAndSelectsTheSeries(t *testing.T) {
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
	body := report(t, r, "cart", Query{})
	if body["journeyId"] != "cart" {
		t.Errorf("journeyId %v", body["journeyId"])
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

	from, to := time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	body = report(t, r, "cart", Query{Version: 2, From: from, To: to})
	if hourly := body["hourly"].([]any); len(hourly) != 1 || hourly[0].(map[string]any)["counts"].(map[string]any)["sent"] != 5.0 {
		t.Errorf("version 2 from 11:00: hourly %v", hourly)
	}
	body = report(t, r, "cart", Query{Step: "wait"})
	if hourly := body["hourly"].([]any); len(hourly) != 1 || hourly[0].(map[string]any)["counts"].(map[string]any)["exited"].(map[string]any)["completed"] != 1.0 {
		t.Errorf("step wait: hourly %v", hourly)
	}

	r.apply(&kgo.Record{Key: cell(1, "email", MeasureSent, "", 0, 1).encode()})
	if body = report(t, r, "cart", Query{}); body["totals"].(map[string]any)["sent"] != 8.0 {
		t.Errorf("after a tombstone: totals %v", body["totals"])
	}
	if body = report(t, r, "nothing-yet", Query{}); body["totals"].(map[string]any)["entered"] != 0.0 || len(body["hourly"].([]any)) != 0 {
		t.Errorf("a journey without counts: %v", body)
	}
}

// Every JSON name of a report is camelCase, like the rest of the API.
func TestReportNamesAreCamelCase(t *testing.T) {
	b, err := json.Marshal(summarise("cart", map[Cell]int64{{Journey: "cart", Version: 1, Step: "s", Measure: MeasureSent}: 1}, Query{}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "_") {
		t.Errorf("a JSON name with an underscore: %s", b)
	}
}

func TestReaderNotReady(t *testing.T) {
	if _, err := NewReader(nil).Journey("cart", Query{}); err != ErrNotReady {
		t.Errorf("Journey before loading: %v, want ErrNotReady", err)
	}
	if _, err := NewReader(nil).JourneyCounts(t.Context(), "cart"); err != ErrNotReady {
		t.Errorf("JourneyCounts before loading: %v, want ErrNotReady", err)
	}
}
