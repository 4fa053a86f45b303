package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/kafkatest"
)

// env is a set of topics on a test broker for one group.
type env struct {
	t       *testing.T
	brokers []string
	prefix  string
	events  string
	out     string
	change  string
	dlq     string
	profile string
	catalog string
	client  *kgo.Client
}

const testPartitions = 3

func newEnv(t *testing.T) *env {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	p := kafkatest.Prefix(t)
	e := &env{t: t, brokers: brokers, prefix: p, events: p + "events", out: p + "out", change: p + "changelog", dlq: p + "dlq", profile: p + "profiles", catalog: p + "catalog"}
	kafkatest.CreateTopics(t, brokers, testPartitions, e.events, e.out, e.change, e.dlq, e.profile, e.catalog)
	e.client = kafkatest.Client(t, brokers)
	return e
}

func (e *env) produce(topic string, kvs ...string) {
	e.t.Helper()
	var rs []*kgo.Record
	for i := 0; i+1 < len(kvs); i += 2 {
		r := &kgo.Record{Topic: topic, Key: []byte(kvs[i]), Value: []byte(kvs[i+1])}
		if kvs[i+1] == "<nil>" {
			r.Value = nil
		}
		rs = append(rs, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.client.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

// readAll reads topic read_committed until n records arrived, then waits
// briefly for any extra (duplicates).
func (e *env) readAll(topic string, n int) []*kgo.Record {
	e.t.Helper()
	cl := kafkatest.Client(e.t, e.brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			e.t.Fatalf("%s: read %d of %d records", topic, len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	grace, c2 := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer c2()
	return append(out, cl.PollFetches(grace).Records()...)
}

// run starts a runner for g and returns a stop function that waits for it.
func (e *env) run(g *Group, instance string, dir string, clock func() time.Time) (*Runner, func()) {
	e.t.Helper()
	r, err := New(g, Options{
		Kafka:      []kgo.Opt{kgo.SeedBrokers(e.brokers...)},
		StateDir:   dir,
		InstanceID: instance,
		Clock:      clock,
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return r, e.start(r)
}

// start runs r until the returned stop function (also called when the
// test ends) cancels it and waits for it.
func (e *env) start(r *Runner) func() {
	e.t.Helper()
	instance := r.o.InstanceID
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					e.t.Errorf("runner %s: %v", instance, err)
				}
			case <-time.After(30 * time.Second):
				e.t.Errorf("runner %s did not stop within 30s", instance)
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

func waitReady(t *testing.T, r *Runner) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !r.Ready() || len(r.Partitions()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("runner not ready within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counter is the workload of these tests: it counts events per user and
// emits "<user>=<count>" for each.
func (e *env) counter(extra ...Edge) *Group {
	e.t.Helper()
	edges := append([]Edge{
		Input(e.events), Changelog(e.change), DeadLetter(e.dlq),
		Process(func(c *Context, m Message) error {
			if string(m.Value) == "poison" {
				c.Set(m.Key, []byte("must not be kept"))
				return errors.New("poison record")
			}
			n, err := increment(c, m.Key)
			if err != nil {
				return err
			}
			c.Emit(e.out, m.Key, fmt.Appendf(nil, "%s=%d", m.Key, n))
			return nil
		}),
	}, extra...)
	g, err := Define(e.prefix+"counter", edges...)
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

func values(rs []*kgo.Record) map[string]int {
	m := map[string]int{}
	for _, r := range rs {
		m[string(r.Value)]++
	}
	return m
}

func TestCountsExactlyOnce(t *testing.T) {
	e := newEnv(t)
	r, stop := e.run(e.counter(), "a", t.TempDir(), nil)
	waitReady(t, r)
	for i := range 30 {
		e.produce(e.events, fmt.Sprintf("user-%d", i%5), "x")
	}
	got := values(e.readAll(e.out, 30))
	stop()
	if len(got) != 30 {
		t.Fatalf("got %d distinct outputs, want 30: %v", len(got), got)
	}
	for u := range 5 {
		for n := 1; n <= 6; n++ {
			if k := fmt.Sprintf("user-%d=%d", u, n); got[k] != 1 {
				t.Errorf("%s seen %d times, want once", k, got[k])
			}
		}
	}
}

func TestDeadLetterKeepsThePartitionMoving(t *testing.T) {
	e := newEnv(t)
	r, _ := e.run(e.counter(), "a", t.TempDir(), nil)
	waitReady(t, r)
	e.produce(e.events, "u1", "x", "u1", "poison", "u1", "x")
	got := values(e.readAll(e.out, 2))
	if got["u1=1"] != 1 || got["u1=2"] != 1 || len(got) != 2 {
		t.Fatalf("outputs %v: want u1=1 and u1=2 (the poison record's write discarded)", got)
	}
	dl := e.readAll(e.dlq, 1)
	if len(dl) != 1 || string(dl[0].Value) != "poison" {
		t.Fatalf("dead letters: %v", dl)
	}
	h := map[string]string{}
	for _, x := range dl[0].Headers {
		h[x.Key] = string(x.Value)
	}
	if h[HeaderDLQReason] != "poison record" || h[HeaderDLQTopic] != e.events || h[HeaderDLQOffset] != "1" || h[HeaderDLQPartition] != strconv.Itoa(int(dl[0].Partition)) && h[HeaderDLQPartition] == "" {
		t.Errorf("dead-letter headers %v", h)
	}
}

// TestPanicIsDeadLettered: a processor panic is a non-retryable error.
func TestPanicIsDeadLettered(t *testing.T) {
	e := newEnv(t)
	g, err := Define(e.prefix+"panicky", Input(e.events), Changelog(e.change), DeadLetter(e.dlq), Process(func(c *Context, m Message) error {
		if string(m.Value) == "boom" {
			panic("boom")
		}
		c.Emit(e.out, m.Key, m.Value)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := e.run(g, "a", t.TempDir(), nil)
	waitReady(t, r)
	e.produce(e.events, "u", "boom", "u", "fine")
	if got := values(e.readAll(e.out, 1)); got["fine"] != 1 || len(got) != 1 {
		t.Fatalf("outputs %v", got)
	}
	dl := e.readAll(e.dlq, 1)
	if !strings.Contains(string(headerOf(dl[0], HeaderDLQReason)), "processor panic: boom") {
		t.Fatalf("reason %q", headerOf(dl[0], HeaderDLQReason))
	}
}

func headerOf(r *kgo.Record, k string) []byte {
	for _, h := range r.Headers {
		if h.Key == k {
			return h.Value
		}
	}
	return nil
}

// TestRetryableErrorRetries: a retryable error aborts and the same record
// is processed again; no dead letter, one output.
func TestRetryableErrorRetries(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int32
	g, _ := Define(e.prefix+"flaky", Input(e.events), Changelog(e.change), DeadLetter(e.dlq), Process(func(c *Context, m Message) error {
		if calls.Add(1) <= 2 {
			c.Emit(e.out, m.Key, []byte("from an aborted attempt"))
			return Retryable(errors.New("dependency down"))
		}
		c.Emit(e.out, m.Key, m.Value)
		return nil
	}))
	r, _ := e.run(g, "a", t.TempDir(), nil)
	waitReady(t, r)
	e.produce(e.events, "u", "v")
	if got := values(e.readAll(e.out, 1)); got["v"] != 1 || len(got) != 1 {
		t.Fatalf("outputs %v, want only v once", got)
	}
	if calls.Load() != 3 {
		t.Errorf("processor called %d times, want 3", calls.Load())
	}
}

// increment adds one to the decimal counter stored under key and returns
// the new count: the read-modify-write the workloads of these tests share.
func increment(c *Context, key []byte) (int, error) {
	n := 0
	if v, ok, err := c.Get(key); err != nil {
		return 0, err
	} else if ok {
		n, _ = strconv.Atoi(string(v))
	}
	n++
	c.Set(key, []byte(strconv.Itoa(n)))
	return n, nil
}
