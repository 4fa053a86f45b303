package metrics

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/beckon-dev/beckon/pkg/stream"
)

// Journeys measures the journey engine (it implements engine.Metrics):
// entries, active instances, sends, skips, handling time and timer
// lateness. Journey IDs and channels are labels: both are configured,
// few, and never user data.
type Journeys struct {
	entered  *counter[string]
	exited   *counter[string]
	active   *activeInstances
	sent     *counter[string]
	skipped  *counter[string]
	handled  metric.Float64Histogram
	lateness metric.Float64Histogram
	kind     *boundSets[stream.Kind]
	none     *bound
}

// lateness buckets: a timer fires within a poll when the engine keeps up
// (100 ms); a backlog or a restart makes it seconds to minutes late.
var latenessBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// NewJourneys creates the engine's instruments on m.
func NewJourneys(m metric.Meter) (*Journeys, error) {
	j := &Journeys{
		kind: newBoundSets(func(k stream.Kind) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("kind", k.String())}
		}),
		none: bind(),
	}
	in := &instruments{m: m}
	j.entered = counterOf(in, "beckon_journey_entries", "Instances that entered a journey.", label("journey"))
	j.exited = counterOf(in, "beckon_journey_exits", "Instances of a journey that ended.", label("journey"))
	j.sent = counterOf(in, "beckon_sends", "Send commands produced, by channel.", label("channel"))
	j.skipped = counterOf(in, "beckon_skips", "Sends and entries that did not happen, by reason.", label("reason"))
	j.active = activeOf(in, "beckon_journey_active_instances", "Running instances of a journey in the partitions this process owns, counted from their state.")
	j.handled = in.seconds("beckon_engine_processing_duration", "Time the engine took over one message, by kind.", latencyBuckets)
	j.lateness = in.seconds("beckon_timer_lateness", "How late timers fired: the engine's clock when fired minus the due time.", latenessBuckets)
	err := in.err
	if err == nil {
		err = register(m, j.entered, j.exited, j.active, j.sent, j.skipped)
	}
	if err != nil {
		return nil, err
	}
	return j, nil
}

// Entered counts an entry into journey.
func (j *Journeys) Entered(journey string) { j.entered.add(journey, 1) }

// Exited counts an instance of journey that ended.
func (j *Journeys) Exited(journey string) { j.exited.add(journey, 1) }

// ActiveInstances sets a partition's running instances per journey, as
// counted from its restored state; nil forgets the partition (revoked).
func (j *Journeys) ActiveInstances(partition int32, byJourney map[string]int64) {
	a := j.active
	a.mu.Lock()
	defer a.mu.Unlock()
	if byJourney == nil {
		delete(a.byPartition, partition)
		return
	}
	a.byPartition[partition] = byJourney
}

// ActiveChanged moves a partition's running instances of journey by
// delta, after a transaction that entered or ended some committed.
func (j *Journeys) ActiveChanged(partition int32, journey string, delta int64) {
	a := j.active
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.byPartition[partition]
	if m == nil {
		// Not counted (a Released partition): its next Ready counts it.
		return
	}
	m[journey] += delta
}

// activeInstances is the gauge of running instances per journey: the sum,
// at each collection, of the counts of the partitions this process owns.
// A journey stays a series (at 0) while an owned partition has counted it.
type activeInstances struct {
	inst        metric.Int64ObservableGauge
	sets        *boundSets[string]
	mu          sync.Mutex
	byPartition map[int32]map[string]int64
}

func activeOf(in *instruments, name, desc string) *activeInstances {
	if in.err != nil {
		return nil
	}
	inst, err := in.m.Int64ObservableGauge(name, metric.WithDescription(desc))
	if err != nil {
		in.err = err
		return nil
	}
	return &activeInstances{inst: inst, sets: newBoundSets(label("journey")), byPartition: map[int32]map[string]int64{}}
}

func (a *activeInstances) instrument() metric.Observable { return a.inst }

func (a *activeInstances) observe(o metric.Observer) {
	a.mu.Lock()
	sums := map[string]int64{}
	for _, m := range a.byPartition {
		for journey, n := range m {
			sums[journey] += n
		}
	}
	a.mu.Unlock()
	for journey, n := range sums {
		o.ObserveInt64(a.inst, n, a.sets.get(journey).obs...)
	}
}

// Sent counts a send command for channel.
func (j *Journeys) Sent(channel string) { j.sent.add(channel, 1) }

// Skipped counts a skip by the leading word of its reason.
func (j *Journeys) Skipped(reason string) { j.skipped.add(skipReason(reason), 1) }

// Handled records the engine's time over one message.
func (j *Journeys) Handled(kind stream.Kind, took time.Duration) {
	j.handled.Record(context.Background(), took.Seconds(), j.kind.get(kind).rec...)
}

// TimerFired records a timer's lateness (never negative).
func (j *Journeys) TimerFired(lateness time.Duration) {
	j.lateness.Record(context.Background(), max(lateness, 0).Seconds(), j.none.rec...)
}

// ForEngine creates the journey engine's instruments on r: the runtime's
// (for stream.Options.Metrics) and the journeys' (for engine.Config.Metrics).
func ForEngine(r *Registry) (*Stream, *Journeys, error) {
	s, err := NewStream(r.Meter())
	if err != nil {
		return nil, nil, err
	}
	j, err := NewJourneys(r.Meter())
	if err != nil {
		return nil, nil, err
	}
	return s, j, nil
}
