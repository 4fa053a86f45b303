package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/telemetry"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// DefaultGroup is the engines' consumer group when none is configured;
// the timeline and journey metrics processors beside them name their
// groups after it (timeline.GroupBeside).
const DefaultGroup = "beckon-engine"

// Config configures an engine instance.
type Config struct {
	// Kafka are the connection options (kafkaconn.Config.ClientOpts).
	Kafka []kgo.Opt
	// Topics is the deployment's topic layout (topics.Declare), which
	// names the facts tables, lookups and custom channels.
	Topics topics.Layout
	// Codec encodes and decodes records.
	Codec *codec.Codec
	// StateDir holds the partition stores.
	StateDir string
	// InstanceID names this instance stably (the pod name).
	InstanceID string
	// Group is the consumer group; default DefaultGroup.
	Group string
	// MaxPayloadBytes caps a send command's payload (larger ones are not
	// sent; an error activity says so). Default 64 KiB.
	MaxPayloadBytes int
	// Stream tunes the runtime; Kafka, StateDir, InstanceID and Logger
	// are set from this Config.
	Stream stream.Options
	Logger *slog.Logger
	// Metrics receives journey-level measurements; nil: none. The
	// runtime's own are Stream.Metrics.
	Metrics Metrics
	// Tracing exports a trace per journey instance, and Kafka client
	// spans, when it is enabled; nil or off: no spans (telemetry.FromEnv).
	Tracing *telemetry.Provider
}

// Engine runs the journeys of the users in the partitions it owns.
type Engine struct {
	cfg      Config
	log      *slog.Logger
	codec    *codec.Codec
	catalog  *Catalog
	topics   engineTopics
	group    *stream.Group
	zones    sync.Map // time zone name -> *time.Location
	profiles *profileCache
	tracing  *tracing // nil when tracing is off
	active   ActiveMetrics

	mu     sync.Mutex
	runner *stream.Runner
}

// engineTopics are the full topic names the engine uses.
type engineTopics struct {
	events, receipts, profiles, journeys, changelog, activity, handoff, dlq string
	facts                                                                   map[string]string // fact name -> topic
	lookups                                                                 map[string]string // lookup table -> topic
	send                                                                    map[string]string // channel -> topic
}

// New checks the configuration and declares the engine's stream group.
func New(cfg Config) (*Engine, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.Codec == nil {
		return nil, errors.New("engine: Config.Codec is not set")
	}
	t, channels, err := resolveTopics(cfg.Topics)
	if err != nil {
		return nil, err
	}
	if cfg.Tracing.Enabled() {
		cfg.Kafka = append(slices.Clone(cfg.Kafka), cfg.Tracing.KafkaHooks(cfg.Group, t.traced)...)
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, codec: cfg.Codec, topics: t, catalog: NewCatalog(channels, cfg.Logger), profiles: newProfileCache(20_000), tracing: newTracing(cfg.Tracing)}
	edges := []stream.Edge{
		stream.Input(t.events),
		stream.Input(t.receipts),
		stream.Table(t.profiles, false),
		stream.Validate(t.profiles, e.validateProfile),
		stream.Changelog(t.changelog),
		stream.DeadLetter(t.dlq),
		stream.Process(e.measured),
		// Users are the keys: a record placed by another partitioner than
		// Kafka's default would split a user's state across partitions.
		stream.CheckPartitioning(),
		// The catalog follows the journeys topic itself (it must be
		// loaded before processing starts); as a global table it is read
		// once more so that an invalid record is dead-lettered once for
		// the whole deployment.
		stream.GlobalTable(t.journeys),
		stream.Validate(t.journeys, e.validateJourney),
	}
	if am, ok := cfg.Metrics.(ActiveMetrics); ok {
		e.active = am
		edges = append(edges, stream.Watch(activeWatcher{am, cfg.Logger}))
	}
	for _, name := range sortedNames(t.facts) {
		edges = append(edges, stream.Table(t.facts[name], false), stream.Validate(t.facts[name], e.validateFact))
	}
	// Declared outputs: an Emit elsewhere is a dead letter of its record,
	// never a produce that fails every partition's transaction.
	edges = append(edges, stream.Output(t.activity), stream.Output(t.handoff))
	for _, name := range sortedNames(t.send) {
		edges = append(edges, stream.Output(t.send[name]))
	}
	for _, name := range sortedNames(t.lookups) {
		edges = append(edges, stream.GlobalTable(t.lookups[name]), stream.Validate(t.lookups[name], e.validateLookup))
	}
	if e.group, err = stream.Define(cfg.Group, edges...); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return e, nil
}

func resolveTopics(l topics.Layout) (engineTopics, []string, error) {
	t := engineTopics{facts: map[string]string{}, lookups: map[string]string{}, send: map[string]string{}}
	var channels []string
	var missing []string
	need := func(base string) string {
		s, ok := l.Spec(base)
		if !ok {
			missing = append(missing, base)
		}
		return s.Name
	}
	t.events, t.receipts, t.profiles = need("events"), need("receipts"), need("profiles")
	t.journeys, t.activity, t.handoff, t.dlq = need("journeys"), need("activity"), need("handoff"), need("dlq")
	t.changelog = need("changelog." + topics.DefaultStore)
	for _, s := range l.Specs {
		switch {
		case len(s.Base) > 6 && s.Base[:6] == "facts.":
			t.facts[s.Base[6:]] = s.Name
		case len(s.Base) > 8 && s.Base[:8] == "lookups.":
			t.lookups[s.Base[8:]] = s.Name
		case len(s.Base) > 5 && s.Base[:5] == "send.":
			t.send[s.Base[5:]] = s.Name
			channels = append(channels, s.Base[5:])
		}
	}
	if len(missing) > 0 {
		return t, nil, fmt.Errorf("engine: topic layout lacks %v", missing)
	}
	return t, channels, nil
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Catalog is the engine's view of the journeys topic.
func (e *Engine) Catalog() *Catalog { return e.catalog }

// Channels are the channels send steps may use.
func (e *Engine) Channels() []string { return e.catalog.channels }

// Ready reports whether the journeys are loaded and every owned partition
// is restored.
func (e *Engine) Ready() bool {
	e.mu.Lock()
	r := e.runner
	e.mu.Unlock()
	return e.catalog.Ready() && r != nil && r.Ready()
}

// Health reports whether the engine can make progress (a liveness probe):
// nil while it loads the journeys, then the stream runner's health (a
// stopped runner, a stalled loop, a partition whose restore keeps
// failing).
func (e *Engine) Health() error {
	e.mu.Lock()
	r := e.runner
	e.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.Health()
}

// Partitions returns the partition numbers this engine owns and has
// restored, in order; none before it runs. Benchmarks and tools use it to
// see which instance processes which partitions.
func (e *Engine) Partitions() []int32 {
	e.mu.Lock()
	r := e.runner
	e.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.Partitions()
}

// Run loads the journeys, then processes until ctx ends; it returns nil
// after a cancellation.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan struct{})
	follow := make(chan error, 1)
	go func() { follow <- e.catalog.Follow(ctx, e.cfg.Kafka, e.topics.journeys, e.codec, ready) }()
	select {
	case <-ready:
	case err := <-follow:
		if err == nil {
			return nil
		}
		return fmt.Errorf("engine: %w", err)
	case <-ctx.Done():
		return nil
	}
	e.log.Info("journeys loaded", "current", len(e.catalog.Current()))

	o := e.cfg.Stream
	o.Kafka, o.StateDir, o.InstanceID, o.Logger = e.cfg.Kafka, e.cfg.StateDir, e.cfg.InstanceID, e.log
	r, err := stream.New(e.group, o)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	e.mu.Lock()
	e.runner = r
	e.mu.Unlock()
	err = r.Run(ctx)
	cancel()
	if ferr := <-follow; ferr != nil && err == nil {
		err = ferr
	}
	return err
}

var (
	_ journey.Catalog = (*Catalog)(nil)
	_ journey.Catalog = (*CatalogSnapshot)(nil)
)
