package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/beckon-dev/beckon/pkg/settings"
)

// Format is how records are written.
type Format string

// Formats.
const (
	JSON Format = "json" // one JSON object per line: production
	Text Format = "text" // key=value: development
)

// Settings are the logging flags, with their BECKON_* variables.
var Settings = []settings.Setting{
	{Flag: "log-format", Env: "BECKON_LOG_FORMAT", Default: string(JSON), Usage: "json or text"},
	{Flag: "log-level", Env: "BECKON_LOG_LEVEL", Default: "info", Usage: "debug, info, warn or error"},
}

// FromSettings builds the logger the logging flags describe.
func FromSettings(w io.Writer, v *settings.Values) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(v.String("log-level"))); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not debug, info, warn or error", v.String("log-level"))
	}
	format := Format(strings.ToLower(v.String("log-format")))
	if format != JSON && format != Text {
		return nil, fmt.Errorf("--log-format: %q is not json or text", v.String("log-format"))
	}
	return New(w, format, level), nil
}

// New returns a logger writing format to w from level up, with trace
// and span IDs.
func New(w io.Writer, format Format, level slog.Leveler) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == Text {
		h = slog.NewTextHandler(w, o)
	} else {
		h = slog.NewJSONHandler(w, o)
	}
	return slog.New(WithTrace(h))
}

// WithTrace wraps h so that a record logged with a context holding a
// valid span context gets trace_id and span_id attributes (hex, as in
// traceparent).
func WithTrace(h slog.Handler) slog.Handler { return traceHandler{h} }

type traceHandler struct{ slog.Handler }

func (t traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return t.Handler.Handle(ctx, r)
}

func (t traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{t.Handler.WithAttrs(as)}
}

func (t traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{t.Handler.WithGroup(name)}
}
