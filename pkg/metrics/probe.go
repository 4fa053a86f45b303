package metrics

import (
	"context"

	"go.opentelemetry.io/otel/metric"
)

// Probed is what the health gauges read: a service's liveness and
// readiness (*engine.Engine, *webhook.Sender).
type Probed interface {
	Ready() bool
	Health() error
}

// Partitioned is a Probed that owns partitions (*engine.Engine).
type Partitioned interface {
	Owned() (owned, ready int)
}

// ObserveHealth reports p's liveness and readiness as gauges (1 or 0),
// and, when p owns partitions, how many it owns and how many are ready.
// The gauges are read at each scrape.
func ObserveHealth(m metric.Meter, p Probed) error {
	healthy, err := m.Int64ObservableGauge("beckon_healthy", metric.WithDescription("1 while /healthz is ok: the process makes progress."))
	if err != nil {
		return err
	}
	ready, err := m.Int64ObservableGauge("beckon_ready", metric.WithDescription("1 while /readyz is ok: every owned partition and global table is restored."))
	if err != nil {
		return err
	}
	insts := []metric.Observable{healthy, ready}
	owned, err := m.Int64ObservableGauge("beckon_partitions_owned", metric.WithDescription("Partitions this process owns, restoring or ready."))
	if err != nil {
		return err
	}
	readyParts, err := m.Int64ObservableGauge("beckon_partitions_ready", metric.WithDescription("Owned partitions that are restored and processed."))
	if err != nil {
		return err
	}
	parts, partitioned := p.(Partitioned)
	if partitioned {
		insts = append(insts, owned, readyParts)
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(healthy, boolInt(p.Health() == nil))
		o.ObserveInt64(ready, boolInt(p.Ready()))
		if partitioned {
			n, r := parts.Owned()
			o.ObserveInt64(owned, int64(n))
			o.ObserveInt64(readyParts, int64(r))
		}
		return nil
	}, insts...)
	return err
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
