package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/kafkaconn"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/settings"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// beckon runs the CLI in-process with env as its whole environment.
func beckon(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func TestTopicsApplyAndCheck(t *testing.T) {
	env := map[string]string{
		"BECKON_BROKERS":            strings.Join(kafkatest.Brokers(t), ","),
		"BECKON_TOPIC_PREFIX":       kafkatest.Prefix(t),
		"BECKON_REPLICATION_FACTOR": "1",
		"BECKON_PARTITIONS":         "2",
		"BECKON_FACTS":              "loyalty",
	}
	code, out, errs := beckon(t, env, "topics", "check")
	if code != 1 || !strings.Contains(out, "events: missing") {
		t.Fatalf("check before apply: exit %d, want 1 with missing topics\n%s%s", code, out, errs)
	}
	code, out, errs = beckon(t, env, "topics", "apply")
	if code != 0 || strings.Count(out, "created ") != 19 || !strings.Contains(out, env["BECKON_TOPIC_PREFIX"]+"facts.loyalty (2 partitions, replication factor 1, cleanup.policy=compact") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = beckon(t, env, "topics", "apply")
	if code != 0 || !strings.Contains(out, "0 created, 0 configs set") {
		t.Fatalf("second apply: exit %d, want a no-op\n%s%s", code, out, errs)
	}
	code, out, _ = beckon(t, env, "topics", "check")
	if code != 0 || !strings.Contains(out, "ok       19 topics as declared") {
		t.Fatalf("check after apply: exit %d\n%s", code, out)
	}
	code, out, _ = beckon(t, env, "topics", "check", "--facts", "loyalty,points")
	if code != 1 || !strings.Contains(out, "facts.points: missing") {
		t.Fatalf("check with a new facts table: exit %d\n%s", code, out)
	}
	code, _, errs = beckon(t, env, "topics", "apply", "--facts", "loyalty,points", "--partitions", "3")
	if code != 2 || !regexp.MustCompile(`"[^"]*events" has 2 partitions but "[^"]*facts.points" has 3`).MatchString(errs) {
		t.Fatalf("apply with mismatched partitions: exit %d, want 2 naming both topics\n%s", code, errs)
	}
}

func TestTopicsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"topics"},
		{"topics", "drop"},
		{"topics", "check", "--partitions", "many"},
		{"topics", "check", "--kafka-sasl-mechanism", "GSSAPI"},
		{"nonsense"},
	} {
		if code, _, _ := beckon(t, nil, args...); code != 2 {
			t.Errorf("beckon %q: exit %d, want 2", args, code)
		}
	}
}

// TestDev runs the quick start's command twice on one data directory: the
// second run finds the topics it made the first time.
func TestDev(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := beckon(t, nil, "dev", "--port", "0", "--metrics-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--data-dir", dir, "--events", "15", "--rate", "300")
	if code != 0 {
		t.Fatalf("dev: exit %d\n%s%s", code, out, errs)
	}
	if !regexp.MustCompile(`Metrics +http://127\.0\.0\.1:\d+/metrics`).MatchString(out) {
		t.Errorf("dev banner does not say where /metrics is:\n%s", out)
	}
	if !strings.Contains(out, "20 declared, 20 created now") || !strings.Contains(out, "40 products in lookups.catalog, 25 profiles") {
		t.Errorf("dev banner:\n%s", out)
	}
	events := regexp.MustCompile(`(?m)^event  p\d+@\d+ +user-\d{3} +\S`).FindAllString(out, -1)
	if len(events) != 15 {
		t.Errorf("read back %d events, want 15:\n%s", len(events), out)
	}
	code, out, errs = beckon(t, nil, "dev", "--port", "0", "--metrics-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--data-dir", dir, "--events", "3", "--rate", "300")
	if code != 0 || !strings.Contains(out, "20 declared, 0 created now") {
		t.Fatalf("dev restart: exit %d, want the topics kept\n%s%s", code, out, errs)
	}
}

// TestConfigurationDoc keeps docs/configuration.md in step with the flags.
func TestConfigurationDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, list := range map[string][]settings.Setting{"connection": kafkaconn.Settings, "topics": topics.Settings, "dev": devSettings} {
		if !strings.Contains(string(doc), settings.Markdown(list)) {
			t.Errorf("docs/configuration.md lacks the current %s table; paste:\n%s", name, settings.Markdown(list))
		}
	}
}

// TestDevStopsOnInterrupt: Ctrl-C (a cancelled context) stops dev cleanly,
// with exit status 0 and the embedded Kafka's data flushed.
func TestDevStopsOnInterrupt(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb lockedBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"dev", "--port", "0", "--metrics-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--data-dir", dir, "--rate", "50"}, &out, &errb, func(string) string { return "" })
	}()
	// Interrupted while running: once events flow.
	waitFor(t, &out, regexp.MustCompile(`(?m)^event  p\d+@\d+`), time.Minute)
	cancel()
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(out.String(), "stopped; Kafka's data is kept in") {
			t.Fatalf("exit %d after interrupt\n%s%s", code, out.String(), errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("dev did not stop within 20s of the interrupt")
	}
	if entries, err := os.ReadDir(dir + "/kafka"); err != nil || len(entries) == 0 {
		t.Fatalf("no embedded Kafka data in %s/kafka: %v", dir, err)
	}
}
