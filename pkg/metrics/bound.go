package metrics

import (
	"context"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// bound is one attribute set, pre-bound as the option slices the
// instruments take, so a measurement passes them without allocating.
type bound struct {
	add []metric.AddOption
	rec []metric.RecordOption
	obs []metric.ObserveOption
	// n is the series' count when it is a counter kept here (counter).
	n atomic.Int64
}

func bind(attrs ...attribute.KeyValue) *bound {
	o := metric.WithAttributeSet(attribute.NewSet(attrs...))
	return &bound{add: []metric.AddOption{o}, rec: []metric.RecordOption{o}, obs: []metric.ObserveOption{o}}
}

// boundSets maps a key (a topic and partition, a channel, a class) to its
// bound attribute set. Reads take no lock and do not allocate: the map is
// replaced, never changed, when a new key appears, which happens a
// bounded number of times (label values are bounded).
type boundSets[K comparable] struct {
	mu   sync.Mutex
	m    atomic.Pointer[map[K]*bound]
	make func(K) []attribute.KeyValue
}

func newBoundSets[K comparable](mk func(K) []attribute.KeyValue) *boundSets[K] {
	s := &boundSets[K]{make: mk}
	m := map[K]*bound{}
	s.m.Store(&m)
	return s
}

func (s *boundSets[K]) get(k K) *bound {
	if b, ok := (*s.m.Load())[k]; ok {
		return b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.m.Load()
	if b, ok := old[k]; ok {
		return b
	}
	next := make(map[K]*bound, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	b := bind(s.make(k)...)
	next[k] = b
	s.m.Store(&next)
	return b
}

// counter is a counter kept in atomics and read by the SDK at each
// collection: an add on the processing path is a map read and an atomic
// add, a fraction of a synchronous instrument's cost.
type counter[K comparable] struct {
	inst metric.Int64Observable
	sets *boundSets[K]
	// keep, when set, tells which series to report (gauges of partitions
	// this process owns).
	keep func(K) bool
}

func (c *counter[K]) add(k K, n int64) { c.sets.get(k).n.Add(n) }

// set makes the series a gauge's latest value.
func (c *counter[K]) set(k K, v int64) { c.sets.get(k).n.Store(v) }

func (c *counter[K]) observe(o metric.Observer) {
	for k, b := range *c.sets.m.Load() {
		if c.keep == nil || c.keep(k) {
			o.ObserveInt64(c.inst, b.n.Load(), b.obs...)
		}
	}
}

// observed registers the callback that reports counters at collection.
type observed interface {
	observe(metric.Observer)
	instrument() metric.Observable
}

func (c *counter[K]) instrument() metric.Observable { return c.inst }

func register(m metric.Meter, cs ...observed) error {
	insts := make([]metric.Observable, len(cs))
	for i, c := range cs {
		insts[i] = c.instrument()
	}
	_, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, c := range cs {
			c.observe(o)
		}
		return nil
	}, insts...)
	return err
}

// instruments creates instruments on a meter, keeping the first error
// (later calls do nothing and return nil).
type instruments struct {
	m   metric.Meter
	err error
}

// seconds is a histogram of durations in seconds.
func (in *instruments) seconds(name, desc string, buckets []float64) metric.Float64Histogram {
	if in.err != nil {
		return nil
	}
	h, err := in.m.Float64Histogram(name, metric.WithDescription(desc), metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(buckets...))
	in.err = err
	return h
}

// kept returns a counter, an up-down counter or a gauge (whichever
// inst creates) whose values are kept in atomics.
func kept[K comparable](in *instruments, inst metric.Int64Observable, err error, labels func(K) []attribute.KeyValue) *counter[K] {
	if in.err != nil {
		return nil
	}
	if err != nil {
		in.err = err
		return nil
	}
	return &counter[K]{inst: inst, sets: newBoundSets(labels)}
}

func counterOf[K comparable](in *instruments, name, desc string, labels func(K) []attribute.KeyValue) *counter[K] {
	inst, err := in.m.Int64ObservableCounter(name, metric.WithDescription(desc))
	return kept(in, inst, err, labels)
}

func gaugeOf[K comparable](in *instruments, name, desc string, labels func(K) []attribute.KeyValue) *counter[K] {
	inst, err := in.m.Int64ObservableGauge(name, metric.WithDescription(desc))
	return kept(in, inst, err, labels)
}

// label returns the labels of a one-label series.
func label(name string) func(string) []attribute.KeyValue {
	return func(v string) []attribute.KeyValue { return []attribute.KeyValue{attribute.String(name, v)} }
}
