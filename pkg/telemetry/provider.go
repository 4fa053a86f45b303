package telemetry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Options configures a Provider beyond (or instead of) the environment.
// The zero value reads everything from the OTEL_* variables.
type Options struct {
	// ServiceName is service.name when neither OTEL_SERVICE_NAME nor
	// OTEL_RESOURCE_ATTRIBUTES names one.
	ServiceName string
	// Exporter, when set, receives the spans instead of the exporter the
	// environment names, and turns tracing on (tests, benchmarks).
	Exporter sdktrace.SpanExporter
	// Sampler, when set, replaces OTEL_TRACES_SAMPLER.
	Sampler sdktrace.Sampler
	// Synchronous exports each span as it ends instead of in batches
	// (tests that wait for a span; never in production).
	Synchronous bool
	// UserID says how spans carry a user ID; default from
	// BECKON_TRACE_USER_ID, else UserIDHashed.
	UserID UserIDMode
	// NoKafkaSpans leaves Kafka clients without spans (KafkaHooks returns
	// nil); also BECKON_TRACE_KAFKA=false.
	NoKafkaSpans bool
}

// UserIDMode is how a span carries the user it is about.
type UserIDMode string

const (
	// UserIDPlain puts the user ID as it is (beckon.user.id).
	UserIDPlain UserIDMode = "plain"
	// UserIDHashed puts the SHA-256 of the user ID, hex, first 16 bytes
	// (beckon.user.hash): the same user is found by hashing their ID,
	// and the ID is not in the tracing backend.
	UserIDHashed UserIDMode = "hashed"
	// UserIDOmitted leaves the user out of spans.
	UserIDOmitted UserIDMode = "omitted"
)

// Provider is a service's tracing: off (a no-op) unless configured.
type Provider struct {
	tp      *sdktrace.TracerProvider // nil when off
	sampler sdktrace.Sampler
	userID  UserIDMode
	noKafka bool
	// Exporter names what the spans go to, for logs ("off", "otlp grpc
	// http://127.0.0.1:4317").
	Exporter string
}

// Off is a Provider that traces nothing.
func Off() *Provider { return &Provider{userID: UserIDOmitted, Exporter: "off"} }

// FromEnv builds the Provider the standard OTEL_* variables describe:
// tracing is on when OTEL_TRACES_EXPORTER is "otlp", or unset while
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is
// set; OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true turns it off.
// OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL picks "grpc" or "http/protobuf"
// (the default); the exporter reads its endpoint, headers, timeout and
// TLS settings from the OTEL_EXPORTER_OTLP_* variables itself.
// OTEL_TRACES_SAMPLER(_ARG), OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES apply as the specification says.
func FromEnv(ctx context.Context, serviceName string) (*Provider, error) {
	return New(ctx, Options{ServiceName: serviceName})
}

// New builds a Provider from o and the environment (see FromEnv).
func New(ctx context.Context, o Options) (*Provider, error) {
	mode := o.UserID
	if mode == "" {
		mode = UserIDMode(strings.ToLower(os.Getenv("BECKON_TRACE_USER_ID")))
	}
	switch mode {
	case "":
		mode = UserIDHashed
	case UserIDPlain, UserIDHashed, UserIDOmitted:
	default:
		return nil, fmt.Errorf("telemetry: BECKON_TRACE_USER_ID %q: want plain, hashed or omitted", mode)
	}
	exp, what := o.Exporter, "custom exporter"
	if exp == nil {
		var err error
		if exp, what, err = exporterFromEnv(ctx); err != nil {
			return nil, err
		}
		if exp == nil {
			p := Off()
			p.userID = mode
			return p, nil
		}
	}
	sampler := o.Sampler
	if sampler == nil {
		var err error
		if sampler, err = samplerFromEnv(); err != nil {
			_ = exp.Shutdown(ctx)
			return nil, err
		}
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", o.ServiceName)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME: over the default
	)
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	proc := sdktrace.NewBatchSpanProcessor(exp)
	if o.Synchronous {
		proc = sdktrace.NewSimpleSpanProcessor(exp)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(proc),
		sdktrace.WithSampler(sampler),
		sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(idGenerator{}),
	)
	noKafka := o.NoKafkaSpans
	if v := os.Getenv("BECKON_TRACE_KAFKA"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			_ = tp.Shutdown(ctx)
			return nil, fmt.Errorf("telemetry: BECKON_TRACE_KAFKA %q: want true or false", v)
		}
		noKafka = noKafka || !on
	}
	return &Provider{tp: tp, sampler: sampler, userID: mode, noKafka: noKafka, Exporter: what}, nil
}

// exporterFromEnv returns the span exporter the environment configures,
// nil when tracing is off.
func exporterFromEnv(ctx context.Context) (sdktrace.SpanExporter, string, error) {
	if b, _ := strconv.ParseBool(os.Getenv("OTEL_SDK_DISABLED")); b {
		return nil, "", nil
	}
	endpoint := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		endpoint = os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	switch e := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))); e {
	case "none":
		return nil, "", nil
	case "":
		if endpoint == "" {
			return nil, "", nil
		}
	case "otlp":
	default:
		return nil, "", fmt.Errorf("telemetry: OTEL_TRACES_EXPORTER %q: want otlp or none", e)
	}
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	case "", "http/protobuf":
		protocol = "http/protobuf"
		exp, err = otlptracehttp.New(ctx)
	default:
		return nil, "", fmt.Errorf("telemetry: OTEL_EXPORTER_OTLP_PROTOCOL %q: want grpc or http/protobuf", protocol)
	}
	if err != nil {
		return nil, "", fmt.Errorf("telemetry: otlp %s exporter: %w", protocol, err)
	}
	if endpoint == "" {
		endpoint = "the default endpoint"
	}
	return exp, "otlp " + protocol + " " + endpoint, nil
}

// samplerFromEnv reads OTEL_TRACES_SAMPLER and its argument; default
// parentbased_always_on.
func samplerFromEnv() (sdktrace.Sampler, error) {
	name := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER")))
	arg := strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER_ARG"))
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("telemetry: OTEL_TRACES_SAMPLER_ARG %q: want a ratio in [0, 1]", arg)
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		if name == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	}
	return nil, fmt.Errorf("telemetry: OTEL_TRACES_SAMPLER %q is not supported", name)
}

// Enabled reports whether spans are recorded and exported at all.
func (p *Provider) Enabled() bool { return p != nil && p.tp != nil }

// TracerProvider returns the provider spans are made with; a no-op one
// when tracing is off.
func (p *Provider) TracerProvider() trace.TracerProvider {
	if !p.Enabled() {
		return noop.NewTracerProvider()
	}
	return p.tp
}

// Tracer returns a tracer named for the instrumenting package.
func (p *Provider) Tracer(name string) trace.Tracer { return p.TracerProvider().Tracer(name) }

// Sampled says whether a trace that starts with trace ID tid (no parent)
// is sampled: the decision the root of a journey instance's trace gets,
// which its later steps, started with that root as remote parent, must
// repeat.
func (p *Provider) Sampled(tid trace.TraceID) bool {
	if !p.Enabled() {
		return false
	}
	r := p.sampler.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: tid, Kind: trace.SpanKindInternal})
	return r.Decision == sdktrace.RecordAndSample
}

// UserAttribute is the attribute that names user on a span, per the
// configured mode; ok false when the user is omitted.
func (p *Provider) UserAttribute(user string) (kv attribute.KeyValue, ok bool) {
	switch p.userID {
	case UserIDPlain:
		return attribute.String("beckon.user.id", user), true
	case UserIDHashed:
		return attribute.String("beckon.user.hash", hashUser(user)), true
	}
	return attribute.KeyValue{}, false
}

// hashUser is the user's ID as hashed spans show it.
func hashUser(user string) string {
	h := sha256.Sum256([]byte(user))
	return hex.EncodeToString(h[:16])
}

// Shutdown flushes the spans not yet exported and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	return p.tp.Shutdown(ctx)
}

// ForceFlush exports the spans ended so far.
func (p *Provider) ForceFlush(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	return p.tp.ForceFlush(ctx)
}

// Setup is what a service's main does: the Provider the environment
// configures (FromEnv), a log line saying where spans go, and a function
// that flushes and stops it, waiting at most five seconds.
func Setup(ctx context.Context, serviceName string, log *slog.Logger) (*Provider, func(), error) {
	p, err := FromEnv(ctx, serviceName)
	if err != nil {
		return nil, nil, err
	}
	log.Info("tracing", "exporter", p.Exporter)
	return p, func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			log.Warn("tracing: spans not flushed", "err", err)
		}
	}, nil
}
