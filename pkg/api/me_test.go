package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/beckon-dev/beckon/pkg/api"
)

// TestMe checks that each token learns its own name and role, which the
// console uses to offer only the actions the role allows.
func TestMe(t *testing.T) {
	h := startAPI(t, nil, nil)
	for _, c := range []struct{ token, name, role string }{{h.read, "viewer", "read"}, {h.write, "ci", "write"}} {
		r := h.expect(200, "GET", "/v1/me", c.token, "", "")
		if r.field("name") != c.name || r.field("role") != c.role {
			t.Errorf("GET /v1/me: %s, want name %q role %q", r.raw, c.name, c.role)
		}
	}
}

// TestParsedDefinition checks that a version and a validation carry the
// definition as JSON with the schema's keys (the console's flowchart reads
// them), also when the definition parses but does not validate.
func TestParsedDefinition(t *testing.T) {
	h := startAPI(t, nil, nil)
	h.expect(201, "POST", "/v1/journeys", h.write, yamlType, walk)
	steps := func(r response) []any {
		t.Helper()
		p, ok := r.field("parsed").(map[string]any)
		if !ok {
			t.Fatalf("no parsed definition: %s", r.raw)
		}
		s, _ := p["steps"].([]any)
		return s
	}
	s := steps(h.expect(200, "GET", "/v1/journeys/walk/versions/1", h.read, "", ""))
	if len(s) != 1 || s[0].(map[string]any)["send"].(map[string]any)["channel"] != "email" {
		t.Errorf("version 1 parsed steps %v, want the one email send", s)
	}
	// A send on a channel nobody configured parses but does not validate.
	bad := "id: walk\ntrigger: {event: Signed Up}\nsteps:\n  - id: hello\n    send: {channel: pigeon, template: welcome}\n  - id: wait\n    hold: {event: Clicked, timeout: 1h, reset_on: [Viewed]}\n"
	r := h.expect(200, "POST", "/v1/journeys/validate", h.read, yamlType, bad)
	if r.field("valid") != false {
		t.Errorf("validate %s: want invalid", r.raw)
	}
	if s := steps(r); len(s) != 2 || s[1].(map[string]any)["hold"].(map[string]any)["reset_on"].([]any)[0] != "Viewed" {
		t.Errorf("validate parsed steps %v, want the send and the hold resetting on Viewed", s)
	}
	// Text that does not parse has no parsed definition.
	r = h.expect(200, "POST", "/v1/journeys/validate", h.read, yamlType, "id: walk\ntrigger: {event: Signed Up}\nsteps: [{id: x, sned: {}}]\n")
	if _, ok := r.field("parsed").(map[string]any); ok {
		t.Errorf("validate of a definition with an unknown field: parsed %s, want none", r.raw)
	}
}

// TestStaticNeedsNoToken checks that files mounted with Static are served
// without a token, with the security headers, and are not API routes.
func TestStaticNeedsNoToken(t *testing.T) {
	s, err := api.New(api.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Static("GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "console") }))
	if len(s.Routes()) != 0 {
		t.Errorf("Routes() = %v, want none: static files are not API routes", s.Routes())
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 || rec.Body.String() != "console" {
		t.Errorf("GET /: %d %q, want 200 console", rec.Code, rec.Body.String())
	}
	for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if rec.Header().Get(h) == "" {
			t.Errorf("GET /: no %s header", h)
		}
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/elsewhere", nil))
	if rec.Code != 404 {
		t.Errorf("GET /elsewhere: %d, want 404", rec.Code)
	}
}
