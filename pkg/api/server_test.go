package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/journeymetrics"
	"github.com/beckon-dev/beckon/pkg/kafkatest/servicetest"
)

func TestParseTokens(t *testing.T) {
	h := api.HashToken("secret")
	for _, c := range []struct {
		name, file, err string
	}{
		{"ok", "# comment\n\nci write " + h + "\n", ""},
		{"fields", "ci write\n", "want NAME ROLE SHA256-HEX"},
		{"role", "ci admin " + h + "\n", `role "admin"`},
		{"plain token", "ci read secret\n", "is not a hex SHA-256"},
		{"short hash", "ci read " + h[:10] + "\n", "is not a hex SHA-256"},
		{"duplicate", "a read " + h + "\nb write " + h + "\n", `the same token as "a"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts, err := api.ParseTokens(strings.NewReader(c.file))
			if c.err == "" {
				if err != nil || len(ts) != 1 || ts[0].Name != "ci" || ts[0].Role != api.Write {
					t.Fatalf("tokens %+v, err %v", ts, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err %v, want one containing %q", err, c.err)
			}
		})
	}
}

// errorBody decodes a JSON error body, failing unless it is one.
func errorBody(t *testing.T, resp *http.Response) api.Error {
	t.Helper()
	defer resp.Body.Close()
	var body struct{ Error *api.Error }
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error == nil {
		t.Fatalf("not a JSON error body: %v", err)
	}
	return *body.Error
}

// TestServerGuards checks what the server applies to every mounted
// route: roles, body limits, timeouts, panics, unknown routes.
func TestServerGuards(t *testing.T) {
	read, write := "r-token", "w-token"
	tokens, err := api.ParseTokens(strings.NewReader("viewer read " + api.HashToken(read) + "\nci write " + api.HashToken(write) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := api.New(api.Options{Tokens: tokens, MaxBodyBytes: 16, RequestTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("POST", "/v1/echo/{name}", api.Write, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		tok, _ := api.TokenFrom(r.Context())
		_, _ = io.WriteString(w, r.PathValue("name")+":"+tok.Name+":"+string(b))
	}))
	s.Handle("GET", "/v1/deadline", api.Read, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // the server's request timeout ends it
		w.WriteHeader(http.StatusGatewayTimeout)
	}))
	s.Handle("GET", "/v1/panic", api.Read, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	srv := httptest.NewServer(s)
	defer srv.Close()

	do := func(method, path, token, body string, chunked bool) *http.Response {
		t.Helper()
		var rd io.Reader = strings.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd) // unknown length: sent chunked
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, c := range []struct {
		name, method, path, token, body string
		chunked                         bool
		status                          int
		code                            string
	}{
		{"no token", "POST", "/v1/echo/a", "", "hi", false, 401, "unauthorized"},
		{"unknown token", "POST", "/v1/echo/a", "nope", "hi", false, 401, "unauthorized"},
		{"read on write", "POST", "/v1/echo/a", read, "hi", false, 403, "forbidden"},
		{"declared too large", "POST", "/v1/echo/a", write, strings.Repeat("x", 17), false, 413, "too_large"},
		{"unknown route", "GET", "/v1/nothing", write, "", false, 404, "not_found"},
		{"wrong method", "GET", "/v1/echo/a", write, "", false, 405, "method_not_allowed"},
		{"panic", "GET", "/v1/panic", read, "", false, 500, "internal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := do(c.method, c.path, c.token, c.body, c.chunked)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if e := errorBody(t, resp); e.Code != c.code || e.Message == "" {
				t.Fatalf("error %+v, want code %s", e, c.code)
			}
		})
	}
	if resp := do("GET", "/v1/echo/a", write, "", false); resp.Header.Get("Allow") != "POST" {
		t.Errorf("405 Allow = %q", resp.Header.Get("Allow"))
	}
	resp := do("POST", "/v1/echo/a", write, "hello", false)
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "a:ci:hello" {
		t.Fatalf("echo: %d %q", resp.StatusCode, b)
	}
	// A chunked body has no declared length: the limit applies while reading.
	if resp := do("POST", "/v1/echo/a", write, strings.Repeat("x", 17), true); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked oversized body: %d", resp.StatusCode)
	}
	if resp := do("GET", "/v1/deadline", read, "", false); resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("request timeout: %d", resp.StatusCode)
	}
}

// TestSchemaCheckerCatchesMismatches shows the document checker the
// other tests rely on can fail.
func TestSchemaCheckerCatchesMismatches(t *testing.T) {
	doc := loadOpenAPI(t)
	journey := doc.deref(map[string]any{"$ref": "#/components/schemas/Journey"})
	good := map[string]any{"id": "a", "status": "live", "latestVersion": float64(1), "errors": []any{map[string]any{"path": "id", "reason": "r"}}}
	if errs := doc.check(journey, good, "body"); len(errs) != 0 {
		t.Fatalf("a good journey: %v", errs)
	}
	for name, bad := range map[string]map[string]any{
		"missing required":  {"id": "a", "status": "live"},
		"undocumented":      {"id": "a", "status": "live", "latestVersion": float64(1), "colour": "red"},
		"wrong type":        {"id": "a", "status": "live", "latestVersion": "1"},
		"not in enum":       {"id": "a", "status": "running", "latestVersion": float64(1)},
		"bad nested field":  {"id": "a", "status": "live", "latestVersion": float64(1), "errors": []any{map[string]any{"path": "id"}}},
		"bad date-time":     {"id": "a", "status": "live", "latestVersion": float64(1), "publishedAt": "yesterday"},
		"fractional number": {"id": "a", "status": "live", "latestVersion": 1.5},
	} {
		if errs := doc.check(journey, bad, "body"); len(errs) == 0 {
			t.Errorf("%s: the checker found nothing wrong with %v", name, bad)
		}
	}
}

// TestWatchTokens: a rotated tokens file takes effect without a restart;
// an invalid one is refused and the tokens in force stay.
func TestWatchTokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	write := func(content string) {
		// As Kubernetes does: a new file renamed over the old.
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("old read " + api.HashToken("old") + "\n")
	tokens, err := api.LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs servicetest.Output
	s, err := api.New(api.Options{Tokens: tokens, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("GET", "/v1/ping", api.Read, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.WatchTokens(ctx, path, 5*time.Millisecond)
	status := func(token string) int {
		req := httptest.NewRequest("GET", "/v1/ping", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code
	}
	until := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) { // polls the condition
			if time.Now().After(deadline) {
				t.Fatalf("not within 10s: %s\n%s", what, logs.String())
			}
		}
	}
	if status("old") != 204 || status("new") != 401 {
		t.Fatal("before rotation")
	}
	write("new read " + api.HashToken("new") + "\n")
	until("the new token accepted", func() bool { return status("new") == 204 })
	if status("old") != 401 {
		t.Fatal("the rotated-out token still works")
	}
	write("new read not-a-hash\n")
	until("the invalid file reported", func() bool { return strings.Contains(logs.String(), "api tokens file invalid") })
	if status("new") != 204 {
		t.Fatal("an invalid tokens file changed the tokens in force")
	}
}

// TestNotReady: until the journeys topic is read, journey routes answer
// a documented, retryable 503.
func TestNotReady(t *testing.T) {
	doc := loadOpenAPI(t)
	tokens, err := api.ParseTokens(strings.NewReader("viewer read " + api.HashToken("r") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := api.New(api.Options{Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	(&api.Journeys{Catalog: engine.NewCatalog(journey.DefaultChannels, nil), Metrics: journeymetrics.NewReader(nil)}).Mount(s)
	for _, op := range doc.ops {
		// The journey routes and /v1/me only: the timeline routes ask the
		// timeline processors, not the catalog (TestTimelinesWithoutProcessors).
		if op.role != "read" || op.method != "GET" || !(strings.HasPrefix(op.path, "/v1/journeys") || op.path == "/v1/me") {
			continue
		}
		path := strings.NewReplacer("{id}", "welcome", "{version}", "1").Replace(op.path)
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer r")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("GET %s before ready: %d, Retry-After %q", path, rec.Code, rec.Header().Get("Retry-After"))
		}
		schema, _, ok := doc.response(op, rec.Code)
		if !ok {
			t.Fatalf("GET %s: 503 not documented", op.path)
		}
		var body any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if errs := doc.check(schema, body, "body"); len(errs) > 0 {
			t.Fatalf("GET %s: %v", path, errs)
		}
	}
}
