package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/api"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/kafkatest/servicetest"
	"github.com/beckon-dev/beckon/pkg/settings"
)

// TestServe runs the service as deployed: the API on one address, the
// probes and /metrics on another, a request counted in /metrics.
func TestServe(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	prefix := servicetest.Provision(t, kafkatest.Client(t, brokers), 2)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("ops read "+api.HashToken("ops-token")+"\nci write "+api.HashToken("ci-token")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"BECKON_BROKERS": strings.Join(brokers, ","), "BECKON_TOPIC_PREFIX": prefix,
		"BECKON_API_ADDR": "127.0.0.1:0", "BECKON_HEALTH_ADDR": "127.0.0.1:0", "BECKON_API_TOKENS_FILE": tokens,
		"BECKON_LOG_FORMAT": "text",
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr servicetest.Output
	done := make(chan int)
	go func() { done <- run(ctx, nil, &stderr, func(k string) string { return env[k] }) }()
	addr := func(re string) string {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) { // polls the log
			if m := regexp.MustCompile(re).FindStringSubmatch(stderr.String()); m != nil {
				return "http://" + m[1]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no log line %s:\n%s", re, stderr.String())
			}
		}
	}
	apiURL := addr(`msg="serving the API" addr=(\S+)`)
	healthURL := addr(`msg="serving /healthz, /readyz and /metrics" addr=(\S+)`)
	get := func(url, token string) (int, string) { t.Helper(); return servicetest.GetAs(t, url, token) }
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) { // polls readiness
		if code, _ := get(healthURL+"/readyz", ""); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready within 30s")
		}
	}
	if code, body := get(healthURL+"/healthz", ""); code != 200 {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := get(apiURL+"/v1/journeys", "ops-token"); code != 200 || !strings.Contains(body, `"journeys": []`) {
		t.Fatalf("GET /v1/journeys: %d %s", code, body)
	}
	// Headline counts come from the journey metrics topic: zeros for a
	// journey nothing has entered, once that topic is read.
	req, _ := http.NewRequest("POST", apiURL+"/v1/journeys", strings.NewReader("id: welcome\ntrigger: {event: Signed Up}\nsteps:\n  - id: hello\n    send: {channel: email, template: welcome}\n"))
	req.Header.Set("Authorization", "Bearer ci-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("create a journey: %s", resp.Status)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) { // polls the condition
		_, body := get(apiURL+"/v1/journeys/welcome", "ops-token")
		if strings.Contains(body, `"counts": {`) && strings.Contains(body, `"entered": 0`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no counts within 30s: %s", body)
		}
	}
	// The same reader serves the journey's metrics: zeros, with a read
	// token; an unknown journey is 404.
	if code, body := get(apiURL+"/v1/journeys/welcome/metrics", "ops-token"); code != 200 || !strings.Contains(body, `"journeyId": "welcome"`) || !strings.Contains(body, `"entered": 0`) {
		t.Fatalf("GET /v1/journeys/welcome/metrics: %d %s", code, body)
	}
	if code, body := get(apiURL+"/v1/journeys/nope/metrics", "ops-token"); code != 404 {
		t.Fatalf("GET /v1/journeys/nope/metrics: %d %s", code, body)
	}
	// The timeline routes are mounted, for the read role, and ask the
	// engines' timeline processors: with no engine running, a retryable
	// 503 (pkg/api's tests answer real timelines through them).
	if code, body := get(apiURL+"/v1/users/u1/instances", "ops-token"); code != 503 || !strings.Contains(body, `"unavailable"`) {
		t.Fatalf("GET /v1/users/u1/instances with no engine: %d %s", code, body)
	}
	if code, _ := get(apiURL+"/v1/users/u1/instances", ""); code != 401 {
		t.Fatalf("a timeline without a token: %d", code)
	}
	if code, _ := get(apiURL+"/v1/journeys", ""); code != 401 {
		t.Fatalf("without a token: %d", code)
	}
	// Simulations are served, with a read token, over the provisioned
	// topics (empty here: nothing enters).
	req, _ = http.NewRequest("POST", apiURL+"/v1/simulations?from=1h", strings.NewReader("id: welcome\ntrigger: {event: Signed Up}\nsteps:\n  - id: hello\n    send: {channel: email, template: welcome}\n"))
	req.Header.Set("Authorization", "Bearer ops-token")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	sim, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(sim), `"entered": 0`) {
		t.Fatalf("POST /v1/simulations: %s %s", resp.Status, sim)
	}
	_, metrics := get(healthURL+"/metrics", "")
	if !regexp.MustCompile(`beckon_api_requests_total\{[^}]*route="GET /v1/journeys"[^}]*status="401"[^}]*\} 1`).MatchString(metrics) {
		t.Fatalf("/metrics does not count the 401:\n%s", metrics)
	}
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := regexp.MustCompile("(?m)^\\| `(beckon_api_[a-z_]+)` \\|").FindAllStringSubmatch(string(doc), -1)
	if len(documented) != 2 {
		t.Fatalf("docs/api.md documents %d API metrics, want 2", len(documented))
	}
	for _, m := range documented {
		if !regexp.MustCompile("(?m)^" + m[1] + "(_bucket)?\\{").MatchString(metrics) {
			t.Errorf("docs/api.md documents %s; /metrics has no such series:\n%s", m[1], metrics)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("did not stop within 20s")
	}
}

func TestUsage(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("ops read plaintext-not-a-hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{},                         // no tokens file
		{"--tokens-file", tokens},  // a plaintext token
		{"--tokens-file", "/nope"}, // unreadable
		{"--unknown-flag"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, &stderr, func(string) string { return "" }); code != 2 {
			t.Errorf("api %q: exit %d, want 2\n%s", args, code, stderr.String())
		}
	}
}

// TestDocumented keeps docs/api.md's table of flags in step with them.
func TestDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	if table := settings.Markdown(apiSettings); !strings.Contains(string(doc), table) {
		t.Errorf("docs/api.md lacks the current table of flags; paste:\n%s", table)
	}
}
