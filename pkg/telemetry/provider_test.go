package telemetry_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/beckon-dev/beckon/pkg/telemetry"
	"github.com/beckon-dev/beckon/pkg/telemetry/otlptest"
)

// clearEnv unsets the OTEL_* variables a developer's shell may hold.
func clearEnv(t *testing.T) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
		"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "BECKON_TRACE_USER_ID"} {
		t.Setenv(k, "")
	}
}

func TestOffUnlessConfigured(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"nothing set", nil},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "none"}},
		{"SDK disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			p, err := telemetry.FromEnv(context.Background(), "svc")
			if err != nil {
				t.Fatal(err)
			}
			if p.Enabled() || p.KafkaHooks("g", nil) != nil || p.Sampled(trace.TraceID{1}) {
				t.Fatalf("tracing on with %v", tc.env)
			}
			_, span := p.Tracer("x").Start(context.Background(), "s")
			if span.IsRecording() {
				t.Fatal("an off provider records spans")
			}
		})
	}
}

func TestBadConfigurationIsAnError(t *testing.T) {
	for _, tc := range []struct{ key, value, want string }{
		{"OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER"},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"OTEL_TRACES_SAMPLER", "sometimes", "OTEL_TRACES_SAMPLER"},
		{"OTEL_TRACES_SAMPLER_ARG", "1.5", "OTEL_TRACES_SAMPLER_ARG"},
		{"BECKON_TRACE_USER_ID", "encrypted", "BECKON_TRACE_USER_ID"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
			t.Setenv("OTEL_TRACES_SAMPLER", "traceidratio")
			t.Setenv(tc.key, tc.value)
			_, err := telemetry.FromEnv(context.Background(), "svc")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one naming %s", err, tc.want)
			}
		})
	}
}

// TestExportsOverBothProtocols: spans reach a receiver that decodes OTLP,
// over HTTP and gRPC, with the resource the environment names, and the
// IDs WithIDs chose.
func TestExportsOverBothProtocols(t *testing.T) {
	rcv := otlptest.Start(t)
	for _, tc := range []struct{ protocol, endpoint string }{{"http/protobuf", rcv.HTTPEndpoint}, {"grpc", rcv.GRPCEndpoint}} {
		t.Run(tc.protocol, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", tc.endpoint)
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tc.protocol)
			t.Setenv("OTEL_SERVICE_NAME", "renamed")
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
			p, err := telemetry.FromEnv(context.Background(), "svc")
			if err != nil {
				t.Fatal(err)
			}
			if !p.Enabled() || !strings.Contains(p.Exporter, tc.protocol) {
				t.Fatalf("exporter %q", p.Exporter)
			}
			tid, _ := trace.TraceIDFromHex("0102030405060708090a0b0c0d0e0f10")
			root, _ := trace.SpanIDFromHex("1112131415161718")
			child, _ := trace.SpanIDFromHex("2122232425262728")
			ctx, span := p.Tracer("test").Start(telemetry.WithIDs(context.Background(), tid, root), "root "+tc.protocol)
			_, c := p.Tracer("test").Start(telemetry.WithIDs(ctx, tid, child), "child "+tc.protocol)
			c.End()
			span.End()
			if err := p.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := map[string]otlptest.Span{}
			for _, s := range rcv.Spans() {
				got[s.Name] = s
			}
			r, c2 := got["root "+tc.protocol], got["child "+tc.protocol]
			if r.TraceID != tid.String() || r.SpanID != root.String() || r.ParentSpanID != "" || r.Service != "renamed" {
				t.Fatalf("root span %+v", r)
			}
			if c2.TraceID != tid.String() || c2.SpanID != child.String() || c2.ParentSpanID != root.String() {
				t.Fatalf("child span %+v", c2)
			}
		})
	}
}

func TestSamplerFromEnv(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("ffffffffffffffffffffffffffffffff")
	for _, tc := range []struct {
		sampler, arg string
		sampled      bool
	}{
		{"", "", true}, {"always_off", "", false}, {"parentbased_always_off", "", false},
		{"traceidratio", "0", false}, {"parentbased_traceidratio", "1", true},
	} {
		clearEnv(t)
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
		t.Setenv("OTEL_TRACES_SAMPLER", tc.sampler)
		t.Setenv("OTEL_TRACES_SAMPLER_ARG", tc.arg)
		p, err := telemetry.FromEnv(context.Background(), "svc")
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Sampled(tid); got != tc.sampled {
			t.Errorf("sampler %q %q: sampled %v, want %v", tc.sampler, tc.arg, got, tc.sampled)
		}
		_ = p.Shutdown(context.Background())
	}
}

func TestUserAttribute(t *testing.T) {
	sum := sha256.Sum256([]byte("u1"))
	for _, tc := range []struct {
		mode      telemetry.UserIDMode
		key, want string
	}{
		{telemetry.UserIDPlain, "beckon.user.id", "u1"},
		{telemetry.UserIDHashed, "beckon.user.hash", hex.EncodeToString(sum[:16])},
		{telemetry.UserIDOmitted, "", ""},
	} {
		clearEnv(t)
		p, err := telemetry.New(context.Background(), telemetry.Options{UserID: tc.mode, Exporter: discard{}})
		if err != nil {
			t.Fatal(err)
		}
		kv, ok := p.UserAttribute("u1")
		if ok != (tc.key != "") || ok && (string(kv.Key) != tc.key || kv.Value.AsString() != tc.want) {
			t.Errorf("%s: %v %v", tc.mode, kv, ok)
		}
	}
}

func TestTraceParent(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	sc := telemetry.ParseTraceParent(tp)
	if !sc.IsValid() || !sc.IsSampled() || !sc.IsRemote() || telemetry.TraceParent(sc) != tp {
		t.Fatalf("%q -> %v -> %q", tp, sc, telemetry.TraceParent(sc))
	}
	if s := telemetry.ParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"); !s.IsValid() || s.IsSampled() {
		t.Fatal("unsampled flags")
	}
	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz"} {
		if telemetry.ParseTraceParent(bad).IsValid() {
			t.Errorf("%q parsed", bad)
		}
	}
}
