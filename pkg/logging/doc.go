// Package logging builds the services' slog loggers: JSON in production,
// text in development, at a configured level, every record carrying the
// trace_id and span_id of the span in its context (an OpenTelemetry span
// context), so a log line leads to its trace.
//
// It does not decide what is logged, and it does not redact: secrets are
// kept out of logs by never passing them (see docs/observability.md).
package logging
