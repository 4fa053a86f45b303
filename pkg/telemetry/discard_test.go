package telemetry_test

import (
	"context"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// discard is an exporter that drops every span.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }
