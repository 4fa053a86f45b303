// Package metrics measures Beckon's services with OpenTelemetry metrics
// and serves them for Prometheus: a Registry (meter provider, Prometheus
// exporter, /metrics handler), Stream (the stream runtime's
// stream.Metrics) and Journeys (the engine's journey-level hook).
//
// Label values are bounded: topics, partitions, channels, journeys and
// classes of errors, never user IDs or free text (reasons are mapped to a
// fixed set of classes). The hooks are on the processing path, so they
// keep pre-bound attribute sets and do not allocate per measurement.
//
// It is not for traces (package telemetry) or logs (package logging).
package metrics
