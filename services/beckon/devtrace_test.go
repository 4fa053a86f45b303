package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/beckon-dev/beckon/pkg/telemetry/otlptest"
)

// TestDevExportsTraces: `beckon dev` with OTEL_EXPORTER_OTLP_ENDPOINT set
// says so and exports its journey instances' traces there (OTLP/HTTP, to
// a receiver that decodes the protocol); the spans are flushed before it
// exits.
func TestDevExportsTraces(t *testing.T) {
	rcv := otlptest.Start(t)
	for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_SDK_DISABLED", "BECKON_TRACE_KAFKA"} {
		t.Setenv(k, "")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.HTTPEndpoint)
	code, out, errs := beckon(t, nil, "dev", "--port", "0", "--api-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--events", "40", "--rate", "300")
	if code != 0 {
		t.Fatalf("dev: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "Traces    a trace per journey instance, exported by otlp http/protobuf "+rcv.HTTPEndpoint) {
		t.Errorf("dev banner does not say where traces go:\n%s", out)
	}
	entries, kafka := 0, 0
	for _, s := range rcv.Spans() {
		if s.Service != "beckon-dev" {
			t.Fatalf("span %q of service %q", s.Name, s.Service)
		}
		// User IDs are hashed by default, in the journey spans and in the
		// Kafka spans' record keys alike.
		if _, ok := s.Attrs["beckon.user.id"]; ok {
			t.Fatalf("span %q names the user in plain: %v", s.Name, s.Attrs)
		}
		if k, ok := s.Attrs["messaging.kafka.message.key"]; ok && !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(k) {
			t.Fatalf("span %q has record key %q, want it hashed", s.Name, k)
		}
		switch {
		case strings.HasPrefix(s.Name, "journey.enter "):
			if len(s.Attrs["beckon.user.hash"]) != 32 {
				t.Fatalf("entry span without the user's hash: %v", s.Attrs)
			}
			entries++
		case s.Attrs["messaging.system"] == "kafka":
			kafka++
		}
	}
	if entries == 0 || kafka == 0 {
		t.Fatalf("%d journey entries and %d Kafka client spans exported, want some of each (%d spans)", entries, kafka, len(rcv.Spans()))
	}
}
