package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/bench"
)

// prefillCount is the count every user has in the restored changelog; an
// output after the restore must be above it.
const prefillCount = 7

type restoreResult struct {
	keys        int
	fill        time.Duration
	took        time.Duration // child start to Ready
	rate        float64       // entries/s
	rssReady    int64         // VmRSS at Ready
	hwmReady    int64         // VmHWM at Ready: the peak of the restore
	events      int
	eventsTook  time.Duration
	eventsRate  float64
	check       delivery
	notRestored int // outputs whose count shows the user's state was missing
	use         bench.Usage
	err         error
}

type timerResult struct {
	timers     int
	spread     time.Duration
	fill       time.Duration
	restore    time.Duration // child start to Ready (2 changelog entries per timer)
	rssReady   int64
	hwmReady   int64
	fired      int
	duplicates int
	missing    int
	lastFired  time.Duration // Ready to the last output visible
	processor  bench.Latencies
	visible    bench.Latencies
	use        bench.Usage
	err        error
}

// restore fills a changelog with keys, times a fresh runner until Ready,
// then processes events against the restored state.
func (b *benchRun) restore(ctx context.Context) error {
	res := &restoreResult{keys: b.c.keys}
	b.results.restore = res
	err := b.restoreRun(ctx, res)
	res.err = err
	return err
}

func (b *benchRun) restoreRun(ctx context.Context, res *restoreResult) error {
	t := b.topicsFor("stream", "restore", "")
	if err := b.create(ctx, t, true); err != nil {
		return err
	}
	began := time.Now()
	if err := bench.FillState(ctx, b.manual, t.changelog, b.c.partitions, b.c.keys, prefillCount); err != nil {
		return err
	}
	res.fill = time.Since(began)
	logger.Printf("restore: filled %s with %d keys in %v", t.changelog, b.c.keys, res.fill.Round(time.Millisecond))

	// The events wait in the input: once its partitions are restored the
	// runner processes them against the 1M-key state.
	plan := bench.NewPlan(b.c.keyEvents, b.c.keys, 3)
	if err := plan.Produce(ctx, b.cl, t.input); err != nil {
		return err
	}
	perUser := make([]int, len(plan.PerUser))
	for u, n := range plan.PerUser {
		perUser[u] = n + prefillCount
	}
	v := newVerifier(plan.Events, perUser, true)
	var notRestored int
	w, err := bench.Watch(b.c.brokers, t.output, func(r *kgo.Record, _ time.Time) {
		v.add(r)
		if n, ok := bench.OutputCount(r.Value); ok && n <= prefillCount {
			notRestored++
		}
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
	readyCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	ts, _, err := child.AwaitTime(readyCtx, "start")
	if err != nil {
		return err
	}
	tr, mem, err := child.AwaitTime(readyCtx, "ready")
	if err != nil {
		return err
	}
	res.took = tr.Sub(ts)
	res.rate = float64(b.c.keys) / res.took.Seconds()
	res.rssReady, res.hwmReady = readyMem(mem)
	logger.Printf("restore: %d keys in %v = %.0f entries/s, RSS at ready %s (peak so far %s)", b.c.keys, res.took.Round(time.Millisecond), res.rate, mib(res.rssReady), mib(res.hwmReady))

	doneCtx, cancel2 := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel2()
	t1, err := w.WaitFor(doneCtx, plan.Events)
	if err != nil {
		return err
	}
	w.Settle(ctx, time.Second)
	use, err := child.Stop(30 * time.Second)
	w.Close()
	res.use, res.events, res.eventsTook = use, plan.Events, t1.Sub(tr)
	res.eventsRate = float64(plan.Events) / res.eventsTook.Seconds()
	res.check, res.notRestored = v.result(), notRestored
	logger.Printf("restore: %d events over %d keys at %.0f events/s, %s, %d outputs without restored state; peak RSS %s", plan.Events, b.c.keys, res.eventsRate, res.check, notRestored, mib(use.PeakRSS))
	return err
}

// timers fills a changelog with scheduled timers and measures how late
// they fire.
func (b *benchRun) timers(ctx context.Context) error {
	res := &timerResult{timers: b.c.timers, spread: b.c.spread}
	b.results.timers = res
	err := b.timerRun(ctx, res)
	res.err = err
	return err
}

func (b *benchRun) timerRun(ctx context.Context, res *timerResult) error {
	t := b.topicsFor("timers", "fire", "")
	if err := b.create(ctx, t, true); err != nil {
		return err
	}
	// Dues are on the child's clock, which shows base when it is ready.
	base := time.Now().Add(time.Hour).Truncate(time.Second)
	began := time.Now()
	if err := bench.FillTimers(ctx, b.manual, t.changelog, b.c.partitions, b.c.timers, base, b.c.spread); err != nil {
		return err
	}
	res.fill = time.Since(began)
	logger.Printf("timers: filled %s with %d timers (%d entries) in %v", t.changelog, b.c.timers, 2*b.c.timers, res.fill.Round(time.Millisecond))

	var (
		mu        sync.Mutex
		readyAt   time.Time
		seen      = make([]uint8, b.c.timers)
		total     int
		processor = make([]time.Duration, 0, b.c.timers)
		visible   = make([]time.Duration, 0, b.c.timers)
	)
	w, err := bench.Watch(b.c.brokers, t.output, func(r *kgo.Record, at time.Time) {
		due, fired, ok := bench.TimerOutput(r.Value)
		i, err := strconv.Atoi(strings.TrimPrefix(string(r.Key), "timer-"))
		mu.Lock()
		defer mu.Unlock()
		total++
		if !ok || err != nil || i < 0 || i >= len(seen) {
			return
		}
		seen[i] = min(seen[i]+1, 200)
		processor = append(processor, fired.Sub(due))
		// The child's clock shows base at readyAt and runs with ours.
		visible = append(visible, base.Add(at.Sub(readyAt)).Sub(due))
	})
	if err != nil {
		return err
	}
	defer w.Close()

	child, err := b.start(t, "-base", strconv.FormatInt(base.UnixMilli(), 10))
	if err != nil {
		return err
	}
	defer func() { _, _ = child.Stop(30 * time.Second) }() // backstop; Stop is idempotent
	readyCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	ts, _, err := child.AwaitTime(readyCtx, "start")
	if err != nil {
		return err
	}
	tr, mem, err := child.AwaitTime(readyCtx, "ready")
	if err != nil {
		return err
	}
	mu.Lock()
	readyAt = tr
	mu.Unlock()
	res.restore = tr.Sub(ts)
	res.rssReady, res.hwmReady = readyMem(mem)
	logger.Printf("timers: restored %d entries in %v, RSS at ready %s (peak so far %s); firing over %v", 2*b.c.timers, res.restore.Round(time.Millisecond), mib(res.rssReady), mib(res.hwmReady), b.c.spread)

	doneCtx, cancel2 := context.WithTimeout(ctx, b.c.spread+3*time.Minute)
	defer cancel2()
	last, werr := w.WaitFor(doneCtx, b.c.timers)
	w.Settle(ctx, 2*time.Second)
	use, err := child.Stop(30 * time.Second)
	w.Close()
	res.use = use
	if werr == nil {
		res.lastFired = last.Sub(tr)
	}
	mu.Lock()
	for _, c := range seen {
		switch {
		case c == 0:
			res.missing++
		case c > 1:
			res.duplicates += int(c) - 1
		}
	}
	res.fired = len(seen) - res.missing
	if total > res.fired+res.duplicates {
		res.duplicates += total - res.fired - res.duplicates // outputs of unknown timers
	}
	res.processor, res.visible = bench.Summarise(processor), bench.Summarise(visible)
	mu.Unlock()
	logger.Printf("timers: %d of %d fired (%d duplicates); lateness in the processor p50 %v p99 %v, visible p50 %v p99 %v; peak RSS %s",
		res.fired, b.c.timers, res.duplicates, res.processor.P50, res.processor.P99, res.visible.P50, res.visible.P99, mib(use.PeakRSS))
	if werr != nil {
		return fmt.Errorf("not all timers fired: %w", werr)
	}
	return err
}
