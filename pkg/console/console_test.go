package console_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/console"
	"github.com/beckon-dev/beckon/schemas"
)

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServesTheConsole checks the console's files on an API server: the
// page without a token, its modules as JavaScript, its settings and the
// journey schema, a content security policy on every file, and the API's
// routes still behind their tokens.
func TestServesTheConsole(t *testing.T) {
	s, err := api.New(api.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("GET", "/v1/journeys", api.Read, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if err := console.Mount(s, console.Options{TraceURL: "http://localhost:16686/trace/{traceId}"}); err != nil {
		t.Fatal(err)
	}
	r := get(t, s, "/")
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if page := body(t, r); !bytes.Contains(page, []byte(`<script type="module" src="/console/app.js">`)) {
		t.Errorf("GET /: the page does not load /console/app.js:\n%s", page)
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("GET /: Content-Security-Policy %q", csp)
	}
	for _, f := range []string{"app.js", "api.js", "journeys.js", "journey.js", "flowchart.js", "user.js", "schema.js", "dom.js"} {
		r := get(t, s, "/console/"+f)
		if r.StatusCode != 200 || !strings.Contains(r.Header.Get("Content-Type"), "javascript") {
			t.Errorf("GET /console/%s: %d %s, want 200 JavaScript (browsers refuse modules of another type)", f, r.StatusCode, r.Header.Get("Content-Type"))
		}
	}
	if r := get(t, s, "/console/style.css"); r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Errorf("GET /console/style.css: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	var cfg struct {
		TraceURL string `json:"traceUrl"`
	}
	if err := json.Unmarshal(body(t, get(t, s, "/console/config.json")), &cfg); err != nil || cfg.TraceURL != "http://localhost:16686/trace/{traceId}" {
		t.Errorf("config.json: %+v %v", cfg, err)
	}
	if b := body(t, get(t, s, "/console/journey.schema.json")); !bytes.Equal(b, schemas.JourneySchema) {
		t.Errorf("journey.schema.json is not schemas/journey.schema.json")
	}
	if r := get(t, s, "/console/nothing.js"); r.StatusCode != 404 {
		t.Errorf("GET /console/nothing.js: %d, want 404", r.StatusCode)
	}
	if r := get(t, s, "/v1/journeys"); r.StatusCode != 401 {
		t.Errorf("GET /v1/journeys without a token: %d, want 401", r.StatusCode)
	}
}

func TestCheckTraceURL(t *testing.T) {
	for tmpl, ok := range map[string]bool{
		"":                                       true,
		"http://localhost:16686/trace/{traceId}": true,
		"https://grafana.example.com/explore?t={traceId}": true,
		"http://localhost:16686/trace/":                   false,
		"javascript:alert({traceId})":                     false,
		"/trace/{traceId}":                                false,
	} {
		if err := console.CheckTraceURL(tmpl); (err == nil) != ok {
			t.Errorf("CheckTraceURL(%q) = %v, want ok %v", tmpl, err, ok)
		}
		if _, err := console.Handler(console.Options{TraceURL: tmpl}); (err == nil) != ok {
			t.Errorf("Handler with trace URL %q: %v, want ok %v", tmpl, err, ok)
		}
	}
}

var (
	importRe = regexp.MustCompile(`(?s)import\s*\{([^}]*)\}\s*from\s*'\./([a-z]+\.js)'`)
	exportRe = regexp.MustCompile(`export\s+(?:async\s+)?(?:function|const|class|let)\s+([A-Za-z_$][A-Za-z0-9_$]*)|export\s*\{([^}]*)\}`)
)

// TestModulesLink checks what the browser would check when it loads the
// modules: every imported file is embedded and exports every name
// imported from it (Go tests run no JavaScript; the end-to-end tests in
// e2e/console run it in Chromium).
func TestModulesLink(t *testing.T) {
	dir := "assets"
	exports := map[string]map[string]bool{}
	files, err := filepath.Glob(filepath.Join(dir, "*.js"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no modules: %v", err)
	}
	src := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		src[name] = string(b)
		exports[name] = map[string]bool{}
		for _, m := range exportRe.FindAllStringSubmatch(string(b), -1) {
			exports[name][m[1]] = true
			for _, n := range strings.Split(m[2], ",") {
				if n = strings.TrimSpace(n); n != "" {
					exports[name][n] = true
				}
			}
		}
	}
	for name, s := range src {
		for _, m := range importRe.FindAllStringSubmatch(s, -1) {
			from := m[2]
			if exports[from] == nil {
				t.Errorf("%s imports %s, which is not embedded", name, from)
				continue
			}
			for _, n := range strings.Split(m[1], ",") {
				n, _, _ = strings.Cut(strings.TrimSpace(n), " as ")
				if n != "" && !exports[from][n] {
					t.Errorf("%s imports %s from %s, which does not export it", name, n, from)
				}
			}
		}
	}
	// index.html loads app.js, which must reach every other module.
	if !strings.Contains(src["app.js"], "./journeys.js") {
		t.Error("app.js does not import the journeys page")
	}
	if _, err := fs.Stat(os.DirFS(dir), "index.html"); err != nil {
		t.Error(err)
	}
}
