package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/bench"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// childMain runs one pipeline in this process until SIGTERM: "streambench
// child -kind pipe|stream|timers ...". It says "start <unix ns>" before it
// connects and "ready <unix ns> <VmRSS> <VmHWM>" once it owns and has
// restored all partitions.
func childMain(args []string) int {
	fs := flag.NewFlagSet("streambench child", flag.ContinueOnError)
	kind := fs.String("kind", "", "pipe, stream or timers")
	brokers := fs.String("brokers", "", "seed brokers")
	group := fs.String("group", "", "consumer group")
	input := fs.String("input", "", "input topic")
	output := fs.String("output", "", "output topic")
	changelog := fs.String("changelog", "", "changelog topic")
	dlq := fs.String("dlq", "", "dead-letter topic")
	state := fs.String("state", "", "state directory")
	partitions := fs.Int("partitions", 6, "partitions of the input")
	base := fs.Int64("base", 0, "timers: unix ms the runtime clock shows when the runner is ready")
	profile := fs.String("profile", "", "write a CPU profile and a heap profile with this path prefix")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *profile != "" {
		stopProfile, err := startProfile(*profile)
		if err != nil {
			logger.Printf("child: %v", err)
			return 1
		}
		defer stopProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ready := func() {
		rss, hwm := bench.MemStatus()
		bench.Announce("ready", time.Now().UnixNano(), rss, hwm)
	}
	stats := &bench.TxnStats{}
	sc := bench.StreamConfig{
		Brokers: strings.Split(*brokers, ","), Group: *group, Input: *input, Output: *output,
		Changelog: *changelog, DeadLetter: *dlq, StateDir: *state, Partitions: *partitions, Ready: ready,
		Metrics: stats,
	}
	events := &bench.KgoEvents{}
	defer func() {
		if *kind != "pipe" {
			logger.Printf("%s: %s; %s%s", *group, stats, events, stats.Phases())
		}
	}()
	// STREAMBENCH_KGO_LOG names a file for franz-go's debug log of a
	// runtime child, to see where a slow transaction spent its time.
	if path := os.Getenv("STREAMBENCH_KGO_LOG"); path != "" && *kind != "pipe" {
		f, err := os.Create(path + "." + *group)
		if err != nil {
			logger.Printf("child: %v", err)
			return 1
		}
		defer f.Close()
		sc.KafkaOpts = append(sc.KafkaOpts, kgo.WithLogger(kgo.BasicLogger(f, kgo.LogLevelDebug, func() string { return time.Now().Format("15:04:05.000000 ") })))
	} else if *kind != "pipe" {
		sc.KafkaOpts = append(sc.KafkaOpts, kgo.WithLogger(events))
	}
	// Knobs to try on a runtime child, each a duration in an environment
	// variable: STREAMBENCH_METADATA_MIN_AGE a shorter kgo.MetadataMinAge
	// (a produce that meets CONCURRENT_TRANSACTIONS is retried only after a
	// metadata refresh, at most one per min age), STREAMBENCH_LINGER a
	// producer linger, STREAMBENCH_REPOLL, STREAMBENCH_REPOLL_MAX and
	// STREAMBENCH_POLL the runner's RepollWait, RepollMaxWait and PollWait.
	var tunes []func(*stream.Options)
	for _, knob := range []struct {
		env string
		set func(time.Duration)
	}{
		{"STREAMBENCH_METADATA_MIN_AGE", func(d time.Duration) { sc.KafkaOpts = append(sc.KafkaOpts, kgo.MetadataMinAge(d)) }},
		{"STREAMBENCH_LINGER", func(d time.Duration) { sc.KafkaOpts = append(sc.KafkaOpts, kgo.ProducerLinger(d)) }},
		{"STREAMBENCH_REPOLL", func(d time.Duration) { tunes = append(tunes, func(o *stream.Options) { o.RepollWait = d }) }},
		{"STREAMBENCH_REPOLL_MAX", func(d time.Duration) { tunes = append(tunes, func(o *stream.Options) { o.RepollMaxWait = d }) }},
		{"STREAMBENCH_POLL", func(d time.Duration) { tunes = append(tunes, func(o *stream.Options) { o.PollWait = d }) }},
	} {
		v := os.Getenv(knob.env)
		if v == "" || *kind == "pipe" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			logger.Printf("child: %s: %v", knob.env, err)
			return 2
		}
		knob.set(d)
	}
	sc.Tune = func(o *stream.Options) {
		for _, f := range tunes {
			f(o)
		}
	}
	bench.Announce("start", time.Now().UnixNano())
	var err error
	switch *kind {
	case "pipe":
		err = bench.RunPipe(ctx, bench.PipeConfig{Brokers: sc.Brokers, Group: *group, Input: *input, Output: *output, Partitions: *partitions, Ready: ready})
	case "stream":
		err = bench.RunStream(ctx, sc, stats.Stamped(bench.CounterProcessor(*output), 2*time.Second))
	case "timers":
		clock := &bench.StartClock{Base: time.UnixMilli(*base)}
		sc.Clock = clock.Now
		sc.Ready = func() {
			clock.Start()
			rss, hwm := bench.MemStatus()
			bench.Announce("ready", clock.Started().UnixNano(), rss, hwm)
		}
		err = bench.RunStream(ctx, sc, bench.TimerProcessor(*output, clock.Now))
	default:
		logger.Printf("child: unknown -kind %q", *kind)
		return 2
	}
	if err != nil {
		logger.Printf("child %s: %v", *kind, err)
		return 1
	}
	return 0
}

// startProfile starts a CPU profile at prefix.cpu.pprof; the function it
// returns stops it and writes the heap at prefix.heap.pprof.
func startProfile(prefix string) (func(), error) {
	f, err := os.Create(prefix + ".cpu.pprof")
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		h, err := os.Create(prefix + ".heap.pprof")
		if err != nil {
			logger.Printf("heap profile: %v", err)
			return
		}
		defer h.Close()
		if err := pprof.Lookup("heap").WriteTo(h, 0); err != nil {
			logger.Printf("heap profile: %v", err)
		}
	}, nil
}
