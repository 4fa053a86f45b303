package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/bench"
)

// benchRun holds the clients and results of one streambench run.
type benchRun struct {
	c       config
	broker  string
	prefix  string
	self    string // this binary, re-executed as the child
	goka    string // the goka binary
	ks      *kstreamsPeer
	cl      *kgo.Client
	manual  *kgo.Client // producer with kgo.ManualPartitioner, for changelogs
	paced   *kgo.Client // producer without linger, for latency runs
	adm     *kadm.Client
	started time.Time
	load0   string

	results results
}

func newBench(c config, broker string) (*benchRun, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b := &benchRun{c: c, broker: broker, self: self, started: time.Now(), load0: loadAvg(),
		prefix: fmt.Sprintf("sb%d-", time.Now().Unix()%1_000_000)}
	if b.cl, err = kgo.NewClient(kgo.SeedBrokers(c.brokers...)); err != nil {
		return nil, err
	}
	if b.manual, err = kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner())); err != nil {
		return nil, err
	}
	if b.paced, err = kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.ProducerLinger(0)); err != nil {
		return nil, err
	}
	b.adm = kadm.NewClient(b.cl)
	return b, nil
}

func (b *benchRun) close() {
	b.cl.Close()
	b.manual.Close()
	b.paced.Close()
}

func (b *benchRun) run(ctx context.Context) error {
	if b.c.suites["pipelines"] {
		if err := b.pipelines(ctx); err != nil {
			return fmt.Errorf("pipelines: %w", err)
		}
	}
	if b.c.suites["state"] && b.c.keys > 0 {
		if err := b.restore(ctx); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	if b.c.suites["state"] && b.c.timers > 0 {
		if err := b.timers(ctx); err != nil {
			return fmt.Errorf("timers: %w", err)
		}
	}
	return nil
}

// createTopics creates topics with the run's partition count; compact
// ones get cleanup.policy=compact, like changelogs in production.
func (b *benchRun) createTopics(ctx context.Context, compact bool, topics ...string) error {
	var cfg map[string]*string
	if compact {
		p := "compact"
		cfg = map[string]*string{"cleanup.policy": &p}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := b.adm.CreateTopics(ctx, int32(b.c.partitions), -1, cfg, topics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("create topics %v: %w", topics, err)
	}
	for {
		md, err := b.adm.Metadata(ctx, topics...)
		if err == nil {
			err = md.Topics.Error()
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics %v not in metadata: %w", topics, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// topics names one pipeline run's topics and state.
type topics struct {
	kind      string // pipe, stream, goka, kstreams, timers
	group     string
	input     string
	output    string
	changelog string
	dlq       string
	state     string
}

func (b *benchRun) topicsFor(kind, run, input string) topics {
	g := b.prefix + kind + "-" + run
	t := topics{kind: kind, group: g, input: input, output: g + "-out", state: filepath.Join(b.c.workDir, g)}
	if t.input == "" {
		t.input = g + "-events"
	}
	switch kind {
	case "stream", "timers":
		t.changelog, t.dlq = g+"-changelog", g+"-dlq"
	case "goka":
		t.changelog = g + "-table" // goka's group table
	}
	return t
}

// create makes the run's topics, the input too when own is set.
func (b *benchRun) create(ctx context.Context, t topics, own bool) error {
	plain := []string{t.output}
	if own {
		plain = append(plain, t.input)
	}
	if t.dlq != "" {
		plain = append(plain, t.dlq)
	}
	if err := b.createTopics(ctx, false, plain...); err != nil {
		return err
	}
	if t.changelog != "" {
		return b.createTopics(ctx, true, t.changelog)
	}
	return nil
}

// start runs the pipeline of t as a child process.
func (b *benchRun) start(t topics, extra ...string) (*bench.Child, error) {
	brokers := strings.Join(b.c.brokers, ",")
	if t.kind == "kstreams" {
		return b.ks.start(t, brokers, b.c.partitions, b.c.ksThreads)
	}
	if t.kind == "goka" {
		return bench.StartChild(t.group, b.goka, "-brokers", brokers, "-group", t.group, "-input", t.input,
			"-output", t.output, "-dir", t.state, "-flush", b.c.gokaFlush.String())
	}
	args := append([]string{"child", "-kind", t.kind, "-brokers", brokers, "-group", t.group, "-input", t.input,
		"-output", t.output, "-changelog", t.changelog, "-dlq", t.dlq, "-state", t.state,
		"-partitions", strconv.Itoa(b.c.partitions)}, extra...)
	if b.c.profileDir != "" {
		args = append(args, "-profile", filepath.Join(b.c.profileDir, t.group))
	}
	return bench.StartChild(t.group, b.self, args...)
}

// readyMem parses the VmRSS and VmHWM a child reports with "ready".
func readyMem(f []string) (rss, hwm int64) {
	if len(f) >= 2 {
		rss, _ = strconv.ParseInt(f[0], 10, 64)
		hwm, _ = strconv.ParseInt(f[1], 10, 64)
	}
	return rss, hwm
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
