package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/beckon-dev/beckon/pkg/settings"
)

// TestRecordsCarryTraceIDs: a record logged in the context of a span
// carries its trace and span IDs, in JSON and in text, also through
// With and WithGroup; one without a span carries none.
func TestRecordsCarryTraceIDs(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))

	var out bytes.Buffer
	log := New(&out, JSON, slog.LevelInfo).With("service", "engine").WithGroup("g")
	log.InfoContext(ctx, "step", "journey", "cart")
	var rec map[string]any
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	g, _ := rec["g"].(map[string]any)
	if g["trace_id"] != tid.String() || g["span_id"] != sid.String() || rec["service"] != "engine" || g["journey"] != "cart" {
		t.Errorf("JSON record %v: want trace_id %s and span_id %s", rec, tid, sid)
	}

	out.Reset()
	New(&out, Text, slog.LevelInfo).InfoContext(ctx, "step")
	if s := out.String(); !strings.Contains(s, "trace_id="+tid.String()) || !strings.Contains(s, "span_id="+sid.String()) {
		t.Errorf("text record %q lacks the IDs", s)
	}

	out.Reset()
	New(&out, JSON, slog.LevelInfo).InfoContext(context.Background(), "no span")
	if strings.Contains(out.String(), "trace_id") {
		t.Errorf("record without a span: %s", out.String())
	}
	out.Reset()
	New(&out, JSON, slog.LevelWarn).InfoContext(ctx, "below the level")
	if out.Len() != 0 {
		t.Errorf("a record below the level was written: %s", out.String())
	}
}

func TestFromSettings(t *testing.T) {
	for _, c := range []struct {
		env map[string]string
		ok  bool
	}{
		{map[string]string{}, true},
		{map[string]string{"BECKON_LOG_FORMAT": "text", "BECKON_LOG_LEVEL": "debug"}, true},
		{map[string]string{"BECKON_LOG_FORMAT": "xml"}, false},
		{map[string]string{"BECKON_LOG_LEVEL": "loud"}, false},
	} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		v := settings.Bind(fs, func(k string) string { return c.env[k] }, Settings)
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		_, err := FromSettings(&bytes.Buffer{}, v)
		if (err == nil) != c.ok {
			t.Errorf("%v: err %v", c.env, err)
		}
	}
}

// TestConfigurationDoc keeps the logging table in docs/configuration.md in
// step with the flags (the engine and the webhook sender take them).
func TestConfigurationDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	if table := settings.Markdown(Settings); !strings.Contains(string(doc), table) {
		t.Errorf("docs/configuration.md lacks the current logging table; paste:\n%s", table)
	}
}
