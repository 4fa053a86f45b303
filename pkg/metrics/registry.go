package metrics

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
)

// Registry is one process's metrics: an OpenTelemetry meter provider
// whose readings a Prometheus exporter serves at Handler, with the Go
// runtime's and the process's own collectors beside them.
type Registry struct {
	provider *sdkmetric.MeterProvider
	meter    metric.Meter
	handler  http.Handler
}

// New returns a Registry of its own (not the global Prometheus registry,
// so several can live in one test process).
func New() (*Registry, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("metrics: prometheus exporter: %w", err)
	}
	// No exemplars: Prometheus' text format does not carry them, and the
	// trace-based filter costs a context lookup per measurement.
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	return &Registry{
		provider: provider,
		meter:    provider.Meter("github.com/beckon-dev/beckon"),
		handler:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}, nil
}

// Meter is the meter every Beckon instrument is created with.
func (r *Registry) Meter() metric.Meter { return r.meter }

// Handler serves the readings in Prometheus exposition format: mount it
// at /metrics.
func (r *Registry) Handler() http.Handler { return r.handler }

// Shutdown stops the meter provider.
func (r *Registry) Shutdown(ctx context.Context) error { return r.provider.Shutdown(ctx) }
