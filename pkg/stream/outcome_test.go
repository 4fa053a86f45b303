package stream

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestAfterCommitOnceAndOutcomes: a processor's AfterCommit functions run
// once per message, only for transactions that commit: not for the
// attempts of a transaction that aborted (a partition failed transiently),
// nor for a message whose processor failed. Metrics learn each message's
// outcome when its transaction ends: retried for the aborted attempts,
// then processed or dead-lettered.
func TestAfterCommitOnceAndOutcomes(t *testing.T) {
	e := newEnv(t)
	var attempts atomic.Int32
	var mu sync.Mutex
	afterCommit := map[string]int{} // key/value -> AfterCommit calls
	g, err := Define(e.prefix+"aftercommit", Input(e.events), Output(e.out), Changelog(e.change), DeadLetter(e.dlq), Process(func(c *Context, m Message) error {
		id := string(m.Key) + "/" + string(m.Value)
		c.AfterCommit(func() {
			mu.Lock()
			afterCommit[id]++
			mu.Unlock()
		})
		switch string(m.Value) {
		case "flaky":
			if attempts.Add(1) <= 2 {
				return Retryable(errors.New("dependency down"))
			}
		case "poison":
			return errors.New("poison")
		}
		c.Set(m.Key, m.Value)
		c.Emit(e.out, m.Key, []byte(id))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	r, err := New(g, Options{Kafka: []kgo.Opt{kgo.SeedBrokers(e.brokers...)}, StateDir: t.TempDir(), InstanceID: "a", Metrics: rec, RetryBackoff: 50 * time.Millisecond, MaxRetryBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := e.start(r)
	defer stop()
	waitReady(t, r)

	on, _ := keysOn(e.events, 0, 3)
	// One produce: the records before "flaky" are processed in the
	// attempts that abort, then again in the one that commits.
	e.produce(e.events, on[0], "a", on[1], "b", on[2], "flaky", on[0], "poison", on[1], "c")
	e.readAll(e.out, 4)
	waitFor(t, "every outcome reported", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.outcomes[OutcomeProcessed] == 4 && rec.outcomes[OutcomeDeadLettered] == 1
	})
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{on[0] + "/a": 1, on[1] + "/b": 1, on[2] + "/flaky": 1, on[1] + "/c": 1}
	for id, n := range want {
		if afterCommit[id] != n {
			t.Errorf("AfterCommit of %s ran %d times, want %d", id, afterCommit[id], n)
		}
	}
	if n := afterCommit[on[0]+"/poison"]; n != 0 {
		t.Errorf("AfterCommit of a dead-lettered message ran %d times, want 0", n)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if attempts.Load() < 3 || rec.outcomes[OutcomeRetried] < 2 {
		t.Errorf("%d attempts of the flaky record, %d messages retried; want 3 attempts and at least the 2 failed ones retried", attempts.Load(), rec.outcomes[OutcomeRetried])
	}
	if rec.dead != 1 {
		t.Errorf("%d dead letters reported, want 1 (reported once its transaction committed)", rec.dead)
	}
}

// watchLog is a Watcher that keeps what the scans found per partition.
type watchLog struct {
	mu       sync.Mutex
	keys     map[int32][]string
	released []int32
}

func (w *watchLog) Ready(p int32, scan StateScan) error {
	var keys []string
	if err := scan(func(k, _ []byte) bool { keys = append(keys, string(k)); return true }); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keys[p] = keys
	return nil
}

func (w *watchLog) Released(p int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.keys, p)
	w.released = append(w.released, p)
}

func (w *watchLog) total() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, ks := range w.keys {
		n += len(ks)
	}
	return n
}

// TestWatcherSeesRestoredState: a Watcher's Ready scans each partition's
// state as restored, before it is processed (here after a restart that
// rebuilds the stores from the changelog), and Released follows when the
// runner lets its partitions go.
func TestWatcherSeesRestoredState(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	define := func(w *watchLog) *Group {
		g, err := Define(e.prefix+"watched", Input(e.events), Changelog(e.change), DeadLetter(e.dlq), Watch(w), Process(func(c *Context, m Message) error {
			c.Set(m.Key, m.Value)
			return c.Schedule(m.Key, c.Now().Add(time.Hour), nil) // timers are not state keys
		}))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	first := &watchLog{keys: map[int32][]string{}}
	r, stop := e.run(define(first), "w", dir, nil)
	waitReady(t, r)
	if n := first.total(); n != 0 {
		t.Fatalf("an empty state scanned %d keys", n)
	}
	e.produce(e.events, "u1", "x", "u2", "x", "u3", "x", "u1", "y")
	waitFor(t, "the state written", func() bool {
		for _, k := range []string{"u1", "u2", "u3"} {
			p := PartitionFor([]byte(k), testPartitions)
			r.mu.Lock()
			st := r.parts[p]
			r.mu.Unlock()
			if st == nil {
				return false
			}
			_, closer, err := st.st.db.Get(stateKey([]byte(k)))
			if err != nil {
				return false
			}
			closer.Close()
		}
		return true
	})
	stop()
	first.mu.Lock()
	if len(first.released) != testPartitions || len(first.keys) != 0 {
		t.Errorf("after stop: released %v, still watched %v; want all %d released", first.released, first.keys, testPartitions)
	}
	first.mu.Unlock()

	second := &watchLog{keys: map[int32][]string{}}
	r, _ = e.run(define(second), "w", t.TempDir(), nil) // an empty state directory: restored from the changelog
	waitReady(t, r)
	waitFor(t, "every partition scanned", func() bool { return second.total() == 3 })
	second.mu.Lock()
	defer second.mu.Unlock()
	for _, k := range []string{"u1", "u2", "u3"} {
		p := PartitionFor([]byte(k), testPartitions)
		found := false
		for _, got := range second.keys[p] {
			found = found || got == k
		}
		if !found {
			t.Errorf("partition %d scanned %v, want %q among them", p, second.keys[p], k)
		}
	}
}
