package otlptest

import (
	"context"
	"testing"

	"github.com/beckon-dev/beckon/pkg/telemetry"
)

// Tracing starts a receiver and a Provider configured, through the OTEL_*
// environment of the test, to export to it over protocol ("grpc" or
// "http/protobuf"), each span as it ends; both stop when the test ends.
func Tracing(t *testing.T, protocol string, o telemetry.Options) (*Receiver, *telemetry.Provider) {
	t.Helper()
	rcv := Start(t)
	endpoint := rcv.HTTPEndpoint
	if protocol == "grpc" {
		endpoint = rcv.GRPCEndpoint
	}
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
		"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_SERVICE_NAME", "BECKON_TRACE_KAFKA", "BECKON_TRACE_USER_ID"} {
		t.Setenv(k, "")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
	o.Synchronous = true
	tp, err := telemetry.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	if !tp.Enabled() {
		t.Fatalf("tracing is off with OTEL_EXPORTER_OTLP_ENDPOINT=%s", endpoint)
	}
	return rcv, tp
}
