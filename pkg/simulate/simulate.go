package simulate

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// Options configure a simulation.
type Options struct {
	// Kafka are the connection options (kafkaconn.Config.ClientOpts). The
	// simulation adds direct partition consumption, never a group.
	Kafka []kgo.Opt
	// Layout names the topics (topics.Declare): events, receipts,
	// profiles, facts.* and lookups.*.
	Layout topics.Layout
	// Codec decodes the records.
	Codec *codec.Codec
	// From and To are the window [From, To) of record timestamps. To
	// defaults to now.
	From, To time.Time
	// Users limits the users simulated (0: all): see docs/simulation.md.
	Users int
	// MaxRecords caps the events and receipts read (0: no cap); past it
	// the report says Input.Truncated "maxEvents".
	MaxRecords int64
	// Version is the version number the instances are pinned to; default
	// 1. It shows in send commands and activities.
	Version int32
	// Channels are the channels a definition may send on; default
	// journey.DefaultChannels and the layout's custom channels.
	Channels []string
	// Samples is how many instance timelines the report shows; default 5.
	Samples int
	// MaxPayloadBytes caps a send's payload as the engine's
	// --max-payload-bytes does; default journey.DefaultMaxPayloadBytes.
	MaxPayloadBytes int
	// Parallelism is how many partitions are read and simulated at once;
	// default GOMAXPROCS.
	Parallelism int
	// Sends, when set, is given every send command the simulation
	// makes, from the partitions' goroutines at once.
	Sends func(records.SendCommand)
	// Progress, when set, is called about every ProgressEvery (default 1
	// s) while the simulation runs, and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// Progress is how far a simulation has got.
type Progress struct {
	Partitions     int   `json:"partitions"`
	PartitionsDone int   `json:"partitionsDone"`
	Records        int64 `json:"records"`
}

// Run simulates the definition text (YAML or JSON, as `beckon journeys`
// reads a file). A definition that does not validate is a
// *journey.ValidationError with field paths, as validation reports it.
func Run(ctx context.Context, text []byte, o Options) (*Report, error) {
	def, err := journey.Parse(text)
	if err != nil {
		return nil, err
	}
	if o.Version == 0 {
		o.Version = 1
	}
	j, err := journey.Compile(def, o.Version, o.channels())
	if err != nil {
		return nil, err
	}
	return RunJourney(ctx, j, o)
}

func (o *Options) channels() []string {
	if o.Channels != nil {
		return o.Channels
	}
	chs := slices.Clone(journey.DefaultChannels)
	for _, s := range o.Layout.Specs {
		if ch, ok := strings.CutPrefix(s.Base, "send."); ok && !slices.Contains(chs, ch) {
			chs = append(chs, ch)
		}
	}
	return chs
}

// ErrWindow says the window is empty or inverted.
var ErrWindow = errors.New("the window is empty: from must be before to")

// RunJourney simulates a compiled journey.
func RunJourney(ctx context.Context, j *journey.Journey, o Options) (*Report, error) {
	began := time.Now()
	if o.To.IsZero() {
		o.To = began
	}
	if !o.From.Before(o.To) {
		return nil, ErrWindow
	}
	if o.Codec == nil {
		return nil, errors.New("simulate: Options.Codec is not set")
	}
	w := &world{
		j: j, catalog: &draftCatalog{j: j, current: []*journey.Journey{j}}, codec: o.Codec,
		from: o.From.Truncate(time.Millisecond), to: o.To.Truncate(time.Millisecond), zone: j.Location,
		samples: o.Samples, maxPayload: o.MaxPayloadBytes, sends: o.Sends,
	}
	if w.samples == 0 {
		w.samples = 5
	}
	if w.zone == nil {
		w.zone = time.UTC
	}
	names, err := resolve(o.Layout)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(o.Kafka...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	data, err := windowSpans(ctx, adm, w.from, w.to, names.events, names.receipts)
	if err != nil {
		return nil, err
	}
	tables := append([]string{names.profiles}, values(names.facts)...)
	tables = append(tables, values(names.lookups)...)
	tableSpans, err := windowSpans(ctx, adm, time.Time{}, w.to, tables...)
	if err != nil {
		return nil, err
	}
	if w.lookups, err = loadLookups(ctx, o, w, names.lookups, tableSpans); err != nil {
		return nil, err
	}

	parts := make([]int32, 0, len(data[names.events]))
	for p := range data[names.events] {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	if len(data[names.receipts]) != len(parts) {
		return nil, fmt.Errorf("%s has %d partitions and %s %d: they must be co-partitioned", names.events, len(parts), names.receipts, len(data[names.receipts]))
	}
	s := &session{o: o, w: w, names: names, data: data, tables: tableSpans, parts: parts}
	total, err := s.run(ctx)
	if err != nil {
		return nil, err
	}
	total.in.Partitions = len(parts)
	total.in.UsersLimit = o.Users
	if s.truncated.Load() {
		total.in.Truncated = "maxEvents"
	}
	rep := total.report(w, j.Version)
	rep.ElapsedMillis = time.Since(began).Milliseconds()
	return rep, nil
}

// session is one simulation's reading and running of partitions.
type session struct {
	o      Options
	w      *world
	names  names
	data   spans // events and receipts
	tables spans // profiles, facts, lookups
	parts  []int32

	records   atomic.Int64
	done      atomic.Int64
	truncated atomic.Bool
}

// run reads and simulates the partitions, at most Parallelism at once.
func (s *session) run(ctx context.Context) (*tally, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := s.o.Parallelism
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	stopProgress := s.reportProgress()
	defer stopProgress()
	next := make(chan int32)
	results := make(chan *tally, len(s.parts))
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range min(n, len(s.parts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				t, err := s.partition(ctx, p)
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("partition %d: %w", p, err); cancel() })
					continue
				}
				s.done.Add(1)
				results <- t
			}
		}()
	}
feed:
	for _, p := range s.parts {
		select {
		case next <- p:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(results)
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	total := newTally()
	for t := range results {
		total.merge(t)
	}
	return total, nil
}

// reportProgress calls Options.Progress every ProgressEvery until the
// returned func is called, which reports once more.
func (s *session) reportProgress() func() {
	if s.o.Progress == nil {
		return func() {}
	}
	every := s.o.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	now := func() Progress {
		return Progress{Partitions: len(s.parts), PartitionsDone: int(s.done.Load()), Records: s.records.Load()}
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				s.o.Progress(now())
			}
		}
	}()
	return func() {
		close(stop)
		<-stopped
		s.o.Progress(now())
	}
}

// partition reads partition p's window and tables and simulates it.
func (s *session) partition(ctx context.Context, p int32) (*tally, error) {
	pd := &partition{id: p, profiles: newTable(s.w.from), facts: map[string]*table{}}
	want := spans{}
	for _, t := range []string{s.names.events, s.names.receipts} {
		want.set(t, p, s.data[t][p])
	}
	want.set(s.names.profiles, p, s.tables[s.names.profiles][p])
	factOf := map[string]string{}
	for name, t := range s.names.facts {
		pd.facts[name] = newTable(s.w.from)
		factOf[t] = name
		if sp, ok := s.tables[t][p]; ok {
			want.set(t, p, sp)
		}
	}
	quota := s.quota(p)
	users := map[string]bool{}
	var events, receipts []input
	err := read(ctx, s.o.Kafka, want, func(r *kgo.Record) bool {
		switch r.Topic {
		case s.names.events, s.names.receipts:
			if r.Timestamp.Before(s.w.from) || !r.Timestamp.Before(s.w.to) {
				return true // outside the window (see windowSpans)
			}
			if quota >= 0 && !users[string(r.Key)] {
				if len(users) >= quota {
					return true
				}
				users[string(r.Key)] = true
			}
			if max := s.o.MaxRecords; max > 0 && s.records.Load() >= max {
				s.truncated.Store(true)
				return false
			}
			s.records.Add(1)
			in := input{at: r.Timestamp, key: r.Key, value: r.Value}
			if r.Topic == s.names.receipts {
				in.receipt = true
				receipts = append(receipts, in)
			} else {
				events = append(events, in)
			}
		case s.names.profiles:
			pd.profiles.put(string(r.Key), r.Timestamp, r.Value)
		default:
			if name, ok := factOf[r.Topic]; ok {
				pd.facts[name].put(string(r.Key), r.Timestamp, r.Value)
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	pd.inputs = merge(events, receipts)
	return s.w.run(ctx, pd)
}

// quota is how many users partition p may simulate, -1 for no limit:
// Users shared out over the partitions, the first Users mod P
// partitions one more.
func (s *session) quota(p int32) int {
	if s.o.Users <= 0 {
		return -1
	}
	n := len(s.parts)
	i := slices.Index(s.parts, p)
	q := s.o.Users / n
	if i < s.o.Users%n {
		q++
	}
	return q
}

// loadLookups reads the global lookup tables, decoded once: every
// partition reads them.
func loadLookups(ctx context.Context, o Options, w *world, lookups map[string]string, sp spans) (map[string]*table, error) {
	out := map[string]*table{}
	want := spans{}
	tableOf := map[string]string{}
	for name, t := range lookups {
		out[name] = newTable(w.from)
		tableOf[t] = name
		for p, s := range sp[t] {
			want.set(t, p, s)
		}
	}
	err := read(ctx, o.Kafka, want, func(r *kgo.Record) bool {
		out[tableOf[r.Topic]].put(string(r.Key), r.Timestamp, r.Value)
		return true
	})
	if err != nil {
		return nil, err
	}
	for _, t := range out {
		for _, vs := range t.rows {
			for i := range vs {
				vs[i].decoded = lookupRow(ctx, o.Codec, vs[i].value)
			}
		}
	}
	return out, nil
}

// lookupRow decodes a lookup record into the row the semantics read;
// noRow for one that does not decode (taken as missing, as the engine
// does).
func lookupRow(ctx context.Context, cd *codec.Codec, raw []byte) any {
	if raw == nil {
		return noRow{}
	}
	var rec records.LookupRecord
	if err := cd.Decode(ctx, raw, &rec); err != nil {
		return noRow{}
	}
	row, err := rec.Attributes.Map()
	if err != nil {
		return noRow{}
	}
	row["id"] = rec.ID
	return row
}

// names are the full names of the topics a simulation reads.
type names struct {
	events, receipts, profiles string
	facts, lookups             map[string]string // by fact or table name
}

func resolve(l topics.Layout) (names, error) {
	n := names{facts: map[string]string{}, lookups: map[string]string{}}
	for _, s := range l.Specs {
		switch {
		case s.Base == "events":
			n.events = s.Name
		case s.Base == "receipts":
			n.receipts = s.Name
		case s.Base == "profiles":
			n.profiles = s.Name
		case strings.HasPrefix(s.Base, "facts."):
			n.facts[strings.TrimPrefix(s.Base, "facts.")] = s.Name
		case strings.HasPrefix(s.Base, "lookups."):
			n.lookups[strings.TrimPrefix(s.Base, "lookups.")] = s.Name
		}
	}
	if n.events == "" || n.receipts == "" || n.profiles == "" {
		return n, errors.New("simulate: the topic layout has no events, receipts or profiles topic")
	}
	return n, nil
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// draftCatalog is the journey catalog of a simulation: the simulated
// journey alone, live.
type draftCatalog struct {
	j       *journey.Journey
	current []*journey.Journey
}

func (c *draftCatalog) Current() []*journey.Journey { return c.current }

func (c *draftCatalog) Version(id string, v int32) *journey.Journey {
	if id == c.j.Def.ID && v == c.j.Version {
		return c.j
	}
	return nil
}

func (c *draftCatalog) State(id string) records.JourneyState {
	if id == c.j.Def.ID {
		return records.JourneyLive
	}
	return records.JourneyArchived
}
