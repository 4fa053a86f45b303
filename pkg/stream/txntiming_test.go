package stream

import (
	"context"
	"encoding/binary"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// timings is a Metrics that keeps every TxnTiming.
type timings struct {
	NopMetrics
	mu  sync.Mutex
	all []TxnTiming
}

func (m *timings) TxnTiming(t TxnTiming) { m.mu.Lock(); m.all = append(m.all, t); m.mu.Unlock() }

func (m *timings) messages() (n, txns int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.all {
		n += t.Messages
	}
	return n, len(m.all)
}

// TestTxnTimingAndApplyBetweenTransactions: a Metrics that implements
// TxnTimingMetrics gets each committed transaction's phases, and a
// transaction reads what the one before it wrote although the stores take
// a committed transaction while the loop already polls for the next: a
// per-key counter fed in two batches, each awaited, counts on exactly.
func TestTxnTimingAndApplyBetweenTransactions(t *testing.T) {
	e := newEnv(t)
	g, err := Define(e.prefix+"timing", Input(e.events), Changelog(e.change), DeadLetter(e.dlq), Process(func(c *Context, m Message) error {
		v, _, err := c.Get(m.Key)
		if err != nil {
			return Retryable(err)
		}
		var n uint64
		if len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		n++
		c.Set(m.Key, binary.BigEndian.AppendUint64(nil, n))
		c.Emit(e.out, m.Key, binary.BigEndian.AppendUint64(nil, n))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	m := &timings{}
	r, err := New(g, Options{Kafka: []kgo.Opt{kgo.SeedBrokers(e.brokers...)}, StateDir: t.TempDir(), InstanceID: "timing", Metrics: m,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitReady(t, r)

	const users, each = 4, 30
	batch := func() []string {
		var kvs []string
		for i := range users * each / 2 {
			kvs = append(kvs, string(rune('a'+i%users))+"-user", "x")
		}
		return kvs
	}
	e.produce(e.events, batch()...)
	e.readAll(e.out, users*each/2)
	e.produce(e.events, batch()...)
	outs := e.readAll(e.out, users*each)
	top := map[string]uint64{}
	seen := map[string]map[uint64]bool{}
	for _, o := range outs {
		k, n := string(o.Key), binary.BigEndian.Uint64(o.Value)
		if seen[k] == nil {
			seen[k] = map[uint64]bool{}
		}
		if seen[k][n] {
			t.Errorf("%s: count %d twice", k, n)
		}
		seen[k][n] = true
		top[k] = max(top[k], n)
	}
	for k, n := range top {
		if n != each || len(seen[k]) != each {
			t.Errorf("%s: counted to %d with %d distinct counts, want %d", k, n, len(seen[k]), each)
		}
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		n, txns := m.messages()
		if n == users*each && txns >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timings of %d transactions carry %d messages; want at least 2 transactions and %d messages", txns, n, users*each)
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, tt := range m.all {
		if tt.Messages > 0 && (tt.Process <= 0 || tt.End <= 0 || tt.Flush < 0 || tt.Apply <= 0 || tt.Poll < 0) {
			t.Errorf("transaction %d: phases %+v; want each measured", i, tt)
		}
	}
}
