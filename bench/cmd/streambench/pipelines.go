package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/bench"
)

// pipelineResult is what one pipeline measured.
type pipelineResult struct {
	name      string
	guarantee string

	events     int
	took       time.Duration // ready to the last output visible, median round
	rate       float64       // events/s, median round
	rates      []float64     // every round's, in order
	check      delivery      // every round's outputs, added up
	throughput bench.Usage   // the median round's, with the highest peak RSS of any

	paceRate   float64
	paced      int
	latency    bench.Latencies
	latCheck   delivery
	latencyUse bench.Usage
	err        error
}

var guarantees = map[string]string{"pipe": "none (auto-commit)", "stream": "exactly-once", "goka": "at-least-once", "kstreams": "exactly-once (v2)"}

// pipelines runs the throughput runs, then the latency runs at half the
// runtime's rate.
func (b *benchRun) pipelines(ctx context.Context) error {
	if b.hasPipeline("goka") {
		dir := b.c.gokaDir
		if dir == "" {
			var err error
			if dir, err = findGoka(); err != nil {
				return err
			}
		}
		b.goka = filepath.Join(b.c.workDir, "goka-bench")
		logger.Printf("building the goka pipeline in %s", dir)
		if err := buildGoka(dir, b.goka); err != nil {
			return err
		}
	}
	if b.hasPipeline("kstreams") {
		var err error
		if b.ks, err = buildKStreams(b.c.ksDir); err != nil {
			return err
		}
	}

	input := b.prefix + "events"
	if err := b.createTopics(ctx, false, input); err != nil {
		return err
	}
	plan := bench.NewPlan(b.c.events, b.c.users, 1)
	began := time.Now()
	if err := plan.Produce(ctx, b.cl, input); err != nil {
		return err
	}
	logger.Printf("pre-produced %d events over %d users to %s in %v", plan.Events, plan.Users, input, time.Since(began).Round(time.Millisecond))

	runs := map[string][]throughput{}
	for _, name := range b.c.pipelines {
		b.results.pipelines = append(b.results.pipelines, &pipelineResult{name: name, guarantee: guarantees[name], events: plan.Events})
	}
	// Rounds alternate the pipelines so that a noisy minute hurts each
	// about as much; each round reads the same input with a new group.
	for round := range b.c.rounds {
		for _, res := range b.results.pipelines {
			tp, err := b.throughputRun(ctx, res.name, round, plan, input)
			if err != nil {
				res.err = err
				logger.Printf("%s throughput, round %d: %v", res.name, round+1, err)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				continue
			}
			runs[res.name] = append(runs[res.name], tp)
			logger.Printf("%s, round %d: %d events in %v = %.0f events/s, peak RSS %s, %s", res.name, round+1, plan.Events, tp.took.Round(time.Millisecond), tp.rate, mib(tp.use.PeakRSS), tp.check)
		}
	}
	for _, res := range b.results.pipelines {
		res.summarise(runs[res.name])
	}

	rate := b.c.rate
	if rate == 0 {
		for _, r := range b.results.pipelines {
			if r.name == "stream" && r.rate > 0 {
				rate = r.rate / 2
			}
		}
	}
	if rate == 0 {
		return fmt.Errorf("no paced rate: the runtime's throughput was not measured (pass -rate)")
	}
	b.results.paceRate = rate
	for _, res := range b.results.pipelines {
		if err := b.latencyRun(ctx, res, rate); err != nil {
			res.err = err
			logger.Printf("%s latency: %v", res.name, err)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		logger.Printf("%s at %.0f events/s: p50 %v p99 %v max %v, peak RSS %s, %s", res.name, rate, res.latency.P50, res.latency.P99, res.latency.Max, mib(res.latencyUse.PeakRSS), res.latCheck)
	}
	var errs []error
	for _, res := range b.results.pipelines {
		if res.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", res.name, res.err))
		}
	}
	return errors.Join(errs...)
}

func (b *benchRun) hasPipeline(name string) bool { return slices.Contains(b.c.pipelines, name) }

// throughput is one round of one pipeline over the pre-produced events.
type throughput struct {
	took  time.Duration
	rate  float64
	check delivery
	use   bench.Usage
}

// summarise keeps the median round (by rate), the highest peak RSS and
// every round's deliveries.
func (res *pipelineResult) summarise(runs []throughput) {
	if len(runs) == 0 {
		return
	}
	for _, r := range runs {
		res.rates = append(res.rates, r.rate)
		res.check.add(r.check)
	}
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b throughput) int { return cmp.Compare(a.rate, b.rate) })
	med := sorted[len(sorted)/2]
	res.took, res.rate, res.throughput = med.took, med.rate, med.use
	for _, r := range runs {
		res.throughput.PeakRSS = max(res.throughput.PeakRSS, r.use.PeakRSS)
	}
}

// throughputRun times one pipeline over the pre-produced events.
func (b *benchRun) throughputRun(ctx context.Context, name string, round int, plan *bench.Plan, input string) (throughput, error) {
	var tp throughput
	t := b.topicsFor(name, fmt.Sprintf("tp%d", round+1), input)
	if err := b.create(ctx, t, false); err != nil {
		return tp, err
	}
	v := newVerifier(plan.Events, plan.PerUser, name != "pipe")
	w, err := bench.Watch(b.c.brokers, t.output, func(r *kgo.Record, _ time.Time) { v.add(r) })
	if err != nil {
		return tp, err
	}
	defer w.Close()
	child, err := b.start(t)
	if err != nil {
		return tp, err
	}
	defer func() { _, _ = child.Stop(30 * time.Second) }() // backstop; Stop is idempotent
	readyCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t0, _, err := child.AwaitTime(readyCtx, "ready")
	if err != nil {
		return tp, err
	}
	doneCtx, cancel2 := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel2()
	t1, err := w.WaitFor(doneCtx, plan.Events)
	if err != nil {
		return tp, err
	}
	w.Settle(ctx, time.Second)
	tp.use, err = child.Stop(30 * time.Second)
	tp.took = t1.Sub(t0)
	tp.rate = float64(plan.Events) / tp.took.Seconds()
	w.Close()
	tp.check = v.result()
	return tp, err
}

// latencyRun paces events into a fresh input and measures how long each
// takes to become visible as an output.
func (b *benchRun) latencyRun(ctx context.Context, res *pipelineResult, rate float64) error {
	t := b.topicsFor(res.name, "lat", "")
	if err := b.create(ctx, t, true); err != nil {
		return err
	}
	expect := int(rate*b.c.latency.Seconds()) + 1
	v := newVerifier(expect, nil, false)
	var (
		mu      sync.Mutex
		samples []time.Duration
		from    time.Time
	)
	w, err := bench.Watch(b.c.brokers, t.output, func(r *kgo.Record, seen time.Time) {
		v.add(r)
		sent, _, ok := bench.Stamp(r.Value)
		mu.Lock()
		if ok && !from.IsZero() && !sent.Before(from) {
			samples = append(samples, seen.Sub(sent))
		}
		mu.Unlock()
	})
	if err != nil {
		return err
	}
	defer w.Close()
	child, err := b.start(t)
	if err != nil {
		return err
	}
	defer func() { _, _ = child.Stop(30 * time.Second) }() // backstop; Stop is idempotent
	readyCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, _, err := child.AwaitTime(readyCtx, "ready"); err != nil {
		return err
	}
	mu.Lock()
	from = time.Now().Add(b.c.warmup)
	mu.Unlock()
	n, err := bench.Pace(ctx, b.paced, t.input, rate, b.c.latency, b.c.users, 2)
	if err != nil {
		return err
	}
	doneCtx, cancel2 := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel2()
	_, werr := w.WaitFor(doneCtx, n)
	w.Settle(ctx, 500*time.Millisecond)
	use, err := child.Stop(30 * time.Second)
	w.Close()
	res.paceRate, res.paced, res.latencyUse = rate, n, use
	res.latCheck = v.resultOf(n)
	mu.Lock()
	res.latency = bench.Summarise(samples)
	mu.Unlock()
	if werr != nil {
		return werr
	}
	return err
}

// verifier checks the outputs of a run: one per input event (by sequence
// number) and, for the counters, the counts a correct count produces.
type verifier struct {
	counts  bool
	perUser []int
	seq     []uint8
	total   int
	pairs   map[uint64]uint8
	wrong   int
}

func newVerifier(events int, perUser []int, counts bool) *verifier {
	v := &verifier{counts: counts && perUser != nil, perUser: perUser, seq: make([]uint8, events)}
	if v.counts {
		v.pairs = make(map[uint64]uint8, events)
	}
	return v
}

func (v *verifier) add(r *kgo.Record) {
	v.total++
	_, seq, ok := bench.Stamp(r.Value)
	if !ok {
		v.wrong++
		return
	}
	switch {
	case seq < uint64(len(v.seq)):
		v.seq[seq] = min(v.seq[seq]+1, 200)
	case seq < 2*uint64(len(v.seq))+1024: // a paced run may send a few more
		v.seq = append(v.seq, make([]uint8, int(seq)+1-len(v.seq))...)
		v.seq[seq] = 1
	default:
		v.wrong++
		return
	}
	if !v.counts {
		return
	}
	u, okU := bench.UserIndex(r.Key)
	n, okN := bench.OutputCount(r.Value)
	if !okU || !okN || u >= len(v.perUser) || n == 0 || n > uint64(v.perUser[u]) {
		v.wrong++
		return
	}
	v.pairs[uint64(u)<<32|n]++
}

// delivery is what a run's outputs looked like.
type delivery struct {
	expected   int
	total      int
	missing    int // inputs without an output
	duplicates int // outputs beyond the first per input
	wrongCount int // counter outputs whose count is impossible, or repeated
	counts     bool
}

func (v *verifier) result() delivery { return v.resultOf(len(v.seq)) }

func (v *verifier) resultOf(expected int) delivery {
	d := delivery{expected: expected, total: v.total, counts: v.counts, wrongCount: v.wrong}
	for i, c := range v.seq {
		switch {
		case c == 0 && i < expected:
			d.missing++
		case c > 1:
			d.duplicates += int(c) - 1
		}
	}
	for _, c := range v.pairs {
		if c > 1 {
			d.wrongCount += int(c) - 1
		}
	}
	return d
}

func (d *delivery) add(o delivery) {
	d.expected += o.expected
	d.total += o.total
	d.missing += o.missing
	d.duplicates += o.duplicates
	d.wrongCount += o.wrongCount
	d.counts = o.counts
}

// exact reports one output per input, with right counts.
func (d delivery) exact() bool { return d.missing == 0 && d.duplicates == 0 && d.wrongCount == 0 }

func (d delivery) String() string {
	if d.exact() {
		if d.counts {
			return fmt.Sprintf("%d outputs, each exactly once, counts exact", d.total)
		}
		return fmt.Sprintf("%d outputs, each exactly once", d.total)
	}
	return fmt.Sprintf("%d outputs for %d inputs: %d missing, %d duplicates, %d wrong counts", d.total, d.expected, d.missing, d.duplicates, d.wrongCount)
}

func mib(b int64) string {
	if b <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}
