package stream

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// keysOn returns n keys that the default (murmur2) partitioner puts on
// partition p of topic, and n on other partitions.
func keysOn(topic string, p int32, n int) (on, off []string) {
	tp := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	for i := 0; len(on) < n || len(off) < n; i++ {
		k := fmt.Sprintf("user-%d", i)
		if tp.Partition(&kgo.Record{Key: []byte(k)}, testPartitions) == int(p) {
			if len(on) < n {
				on = append(on, k)
			}
		} else if len(off) < n {
			off = append(off, k)
		}
	}
	return on, off
}

// TestTransientFailureIsConfinedToItsPartition: while one partition's
// processing fails with a retryable error, the other partitions commit;
// once the failure clears, the failed partition's records are processed
// exactly once, and the retries were reported.
func TestTransientFailureIsConfinedToItsPartition(t *testing.T) {
	e := newEnv(t)
	var failing atomic.Bool
	failing.Store(true)
	var attempts atomic.Int32
	g, err := Define(e.prefix+"confined", Input(e.events), Output(e.out), Changelog(e.change), DeadLetter(e.dlq), Process(func(c *Context, m Message) error {
		if string(m.Value) == "flaky" && failing.Load() {
			attempts.Add(1)
			c.Emit(e.out, m.Key, []byte("from an aborted attempt"))
			return Retryable(errors.New("dependency down"))
		}
		n, err := increment(c, m.Key)
		if err != nil {
			return err
		}
		c.Emit(e.out, m.Key, fmt.Appendf(nil, "%s=%d", m.Key, n))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	r, err := New(g, Options{Kafka: []kgo.Opt{kgo.SeedBrokers(e.brokers...)}, StateDir: t.TempDir(), InstanceID: "a", Metrics: rec, RetryBackoff: 100 * time.Millisecond, MaxRetryBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stop := e.start(r)
	defer stop()
	waitReady(t, r)

	on, off := keysOn(e.events, 0, 3)
	e.produce(e.events, on[0], "flaky", on[1], "x")
	// Wait for the failure to have been retried, so the records below
	// arrive while the partition keeps failing.
	waitFor(t, "two failed attempts", func() bool { return attempts.Load() >= 2 })
	var kvs []string
	for _, k := range off {
		kvs = append(kvs, k, "x", k, "x")
	}
	e.produce(e.events, kvs...)
	got := values(e.readAll(e.out, 2*len(off)))
	if !failing.Load() {
		t.Fatal("test bug: the failure cleared early")
	}
	for _, k := range off {
		if got[k+"=1"] != 1 || got[k+"=2"] != 1 {
			t.Errorf("%s: outputs %v while partition 0 failed; want =1 and =2 once", k, got)
		}
	}
	for _, k := range on {
		for v := range got {
			if strings.HasPrefix(v, k+"=") {
				t.Errorf("output %s of the failing partition committed before its failure cleared", v)
			}
		}
	}
	if got["from an aborted attempt"] > 0 {
		t.Errorf("an aborted attempt's output was committed")
	}

	failing.Store(false)
	got = values(e.readAll(e.out, 2*len(off)+2))
	if got[on[0]+"=1"] != 1 || got[on[1]+"=1"] != 1 || got["from an aborted attempt"] > 0 {
		t.Errorf("after the failure cleared: %v; want %s=1 and %s=1 once, nothing from aborted attempts", got, on[0], on[1])
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.retries < 2 {
		t.Errorf("%d retries reported, want at least 2", rec.retries)
	}
}

// TestBadEmitTopicDeadLettersOnlyItsRecord: an Emit to a topic the group
// does not declare, and one to a declared topic the broker does not have,
// each dead-letter their record; the records behind them and on other
// partitions are processed.
func TestBadEmitTopicDeadLettersOnlyItsRecord(t *testing.T) {
	e := newEnv(t)
	missing := e.prefix + "no-such-topic"
	g, err := Define(e.prefix+"badtopic", Input(e.events), Output(e.out), Output(missing), Changelog(e.change), DeadLetter(e.dlq), Process(func(c *Context, m Message) error {
		switch string(m.Value) {
		case "undeclared":
			c.Emit(e.prefix+"undeclared", m.Key, m.Value)
		case "missing":
			c.Emit(missing, m.Key, m.Value)
		}
		n, err := increment(c, m.Key)
		if err != nil {
			return err
		}
		c.Emit(e.out, m.Key, fmt.Appendf(nil, "%s=%d", m.Key, n))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := e.run(g, "a", t.TempDir(), nil)
	waitReady(t, r)
	on, off := keysOn(e.events, 0, 2)
	e.produce(e.events, on[0], "undeclared", on[1], "missing", on[0], "x", on[1], "x", off[0], "x", off[1], "x")
	got := values(e.readAll(e.out, 4))
	for _, k := range []string{on[0] + "=1", on[1] + "=1", off[0] + "=1", off[1] + "=1"} {
		if got[k] != 1 {
			t.Errorf("%s seen %d times, want once (the bad records' writes discarded): %v", k, got[k], got)
		}
	}
	dl := e.readAll(e.dlq, 2)
	reasons := map[string]string{}
	for _, d := range dl {
		reasons[string(d.Value)] = string(headerOf(d, HeaderDLQReason))
	}
	if len(dl) != 2 || !strings.Contains(reasons["undeclared"], "not an Output of the group") || !strings.Contains(reasons["missing"], "the broker refused its output") {
		t.Errorf("dead letters %d, reasons %q", len(dl), reasons)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
