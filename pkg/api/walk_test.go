package api_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/timeline"
)

// walkStep is one documented operation, with a concrete path and body
// that succeed against the walk's fixtures.
type walkStep struct {
	method, path string
	contentType  string
	body         string
	// want is the status with a write token (and with a read token on
	// read routes).
	want int
}

// TestWalkEveryRoute calls every operation in docs/openapi.yaml without a
// token, with an unknown token, with a read token and with a write token,
// and checks each status (and, through the harness, each body against
// the document). Counts and metrics come from the journey metrics
// processor and reader over a small history of the journey walk, so the
// bodies checked hold data.
func TestWalkEveryRoute(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	metrics, journeys := countedMetrics(t, brokers)
	h := startAPIOn(t, brokers, journeys, api.CountsFrom(metrics.JourneyCounts), metrics, walkTimelines(t, brokers, journeys))
	// Fixtures: walk is live at version 1 with a draft as version 2;
	// spare has a draft to delete.
	h.expect(201, "POST", "/v1/journeys", h.write, yamlType, walk)
	h.expect(200, "POST", "/v1/journeys/walk/publish", h.write, "", "")
	h.expect(200, "PUT", "/v1/journeys/walk/draft", h.write, yamlType, walk+"# v2\n")
	h.expect(201, "POST", "/v1/journeys", h.write, yamlType, spare)
	awaitInstances(t, h, "u1", func(ui timeline.UserInstances) bool { return len(ui.Instances) == 1 })

	// In an order in which each write succeeds after the ones before.
	steps := []walkStep{
		{method: "GET", path: "/v1/me", want: 200},
		{method: "GET", path: "/v1/journeys", want: 200},
		{method: "GET", path: "/v1/journeys/walk", want: 200},
		{method: "GET", path: "/v1/journeys/walk/versions", want: 200},
		{method: "GET", path: "/v1/journeys/walk/versions/1", want: 200},
		{method: "GET", path: "/v1/journeys/walk/metrics", want: 200},
		{method: "GET", path: "/v1/users/u1/instances", want: 200},
		{method: "GET", path: "/v1/instances/" + timeline.Ref("u1", "walk-u1"), want: 200},
		{method: "POST", path: "/v1/journeys/validate", contentType: yamlType, body: walk, want: 200},
		{method: "POST", path: "/v1/simulations?from=168h", contentType: yamlType, body: walk, want: 200},
		{method: "POST", path: "/v1/journeys", contentType: yamlType, body: fresh, want: 201},
		{method: "PUT", path: "/v1/journeys/walk/draft", contentType: yamlType, body: walk + "# v2 again\n", want: 200},
		{method: "POST", path: "/v1/journeys/walk/publish", want: 200},
		{method: "POST", path: "/v1/journeys/walk/pause", want: 200},
		{method: "POST", path: "/v1/journeys/walk/resume", want: 200},
		{method: "POST", path: "/v1/journeys/walk/clone", contentType: "application/json", body: `{"id": "walk-copy"}`, want: 201},
		{method: "DELETE", path: "/v1/journeys/spare/draft", want: 204},
		{method: "POST", path: "/v1/journeys/walk/archive", want: 200},
		{method: "DELETE", path: "/v1/users/walk-user", want: 202},
	}
	var covered []string
	for _, s := range steps {
		op, ok := h.doc.find(s.method, s.path)
		if !ok {
			t.Fatalf("%s %s: not documented", s.method, s.path)
		}
		covered = append(covered, op.method+" "+op.path)
	}
	for _, op := range h.doc.ops {
		if n := len(slices.DeleteFunc(slices.Clone(covered), func(c string) bool { return c != op.method+" "+op.path })); n != 1 {
			t.Errorf("the walk calls %s %s %d times, want once", op.method, op.path, n)
		}
	}

	for _, s := range steps {
		r := h.expect(401, s.method, s.path, "", s.contentType, s.body)
		if r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", s.method, s.path)
		}
		h.expect(401, s.method, s.path, "not-a-known-token", s.contentType, s.body)
	}
	for _, s := range steps {
		op, _ := h.doc.find(s.method, s.path)
		want := http.StatusForbidden
		if op.role == "read" {
			want = s.want
		}
		h.expect(want, s.method, s.path, h.read, s.contentType, s.body)
	}
	for _, s := range steps {
		h.expect(s.want, s.method, s.path, h.write, s.contentType, s.body)
	}

	// The journey list's headline counts are the metrics' totals.
	for _, j := range h.expect(200, "GET", "/v1/journeys", h.read, "", "").field("journeys").([]any) {
		j := j.(map[string]any)
		c, ok := j["counts"].(map[string]any)
		want := map[string]any{"entered": 0.0, "sent": 0.0, "delivered": 0.0, "opened": 0.0}
		if j["id"] == "walk" {
			want = map[string]any{"entered": 1.0, "sent": 1.0, "delivered": 1.0, "opened": 1.0}
		}
		for k, n := range want {
			if !ok || c[k] != n {
				t.Errorf("journey %v: counts %v, want %s %v", j["id"], j["counts"], k, n)
			}
		}
	}
	checkWalkMetrics(t, h)
	checkWalkTimelines(t, h)
}

const walk = `id: walk
trigger: {event: Signed Up}
steps:
  - id: hello
    send: {channel: email, template: welcome}
`

const spare = `id: spare
trigger: {event: Signed Up}
steps:
  - id: hello
    send: {channel: email, template: welcome}
`

const fresh = `id: fresh
trigger: {event: Signed Up}
steps:
  - id: hello
    send: {channel: email, template: welcome}
`
