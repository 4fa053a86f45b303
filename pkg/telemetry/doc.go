// Package telemetry sets up OpenTelemetry tracing for Beckon's services:
// a TracerProvider configured by the standard OTEL_* environment
// variables (OTLP over gRPC or HTTP, sampler, resource attributes), spans
// with IDs chosen by the caller (a journey instance's trace is derived
// from the instance, so every step of it joins one trace across restarts),
// and Kafka client spans for franz-go clients.
//
// It is not the journey tracing itself: the engine turns a journey's
// effects into spans (pkg/engine/tracing.go). When nothing is configured
// the Provider is off: its tracer is a no-op and Enabled reports false,
// so callers skip building spans at all.
package telemetry
