package stream

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recorder is a Metrics that remembers what it was told.
type recorder struct {
	mu        sync.Mutex
	processed map[Kind]int    // committed: processed or dead-lettered
	outcomes  map[Outcome]int // every outcome
	commits   int
	dead      int
	restored  map[string]int64 // topic/partition -> offsets restored
	timers    map[int32]int64
	lagSeen   bool
	retries   int
}

func newRecorder() *recorder {
	return &recorder{processed: map[Kind]int{}, outcomes: map[Outcome]int{}, restored: map[string]int64{}, timers: map[int32]int64{}}
}

func (r *recorder) Processed(_ string, _ int32, k Kind, o Outcome, n int) {
	r.mu.Lock()
	if o != OutcomeRetried {
		r.processed[k] += n
	}
	r.outcomes[o] += n
	r.mu.Unlock()
}
func (r *recorder) Committed(time.Duration, int) { r.mu.Lock(); r.commits++; r.mu.Unlock() }
func (r *recorder) Aborted(string)               {}
func (r *recorder) RestoreProgress(t string, p int32, done, _ int64) {
	r.mu.Lock()
	k := fmt.Sprintf("%s/%d", t, p)
	r.restored[k] = max(r.restored[k], done)
	r.mu.Unlock()
}

func (r *recorder) restoredFrom(topic string) int64 {
	var n int64
	for k, v := range r.restored {
		if strings.HasPrefix(k, topic+"/") {
			n += v
		}
	}
	return n
}
func (r *recorder) TimersPending(p int32, n int64) { r.mu.Lock(); r.timers[p] = n; r.mu.Unlock() }
func (r *recorder) DeadLettered(string, string)    { r.mu.Lock(); r.dead++; r.mu.Unlock() }
func (r *recorder) Lag(string, int32, int64)       { r.mu.Lock(); r.lagSeen = true; r.mu.Unlock() }
func (r *recorder) Retried(int32, string, time.Duration) {
	r.mu.Lock()
	r.retries++
	r.mu.Unlock()
}

// TestMetricsAndReadiness: the hooks SREs rely on report processing,
// commits, dead letters, pending timers, lag and restore progress, and the
// runner is not ready while it restores.
func TestMetricsAndReadiness(t *testing.T) {
	e := newEnv(t)
	g, err := Define(e.prefix+"metrics", Input(e.events), Changelog(e.change), DeadLetter(e.dlq), Process(func(c *Context, m Message) error {
		if string(m.Value) == "poison" {
			return os.ErrInvalid
		}
		c.Set(m.Key, m.Value)
		return c.Schedule(m.Key, c.Now().Add(time.Hour), nil)
	}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	start := func(rec *recorder) (*Runner, func()) {
		r, err := New(g, Options{Kafka: []kgo.Opt{kgo.SeedBrokers(e.brokers...)}, StateDir: dir, InstanceID: "m", Metrics: rec,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
		if err != nil {
			t.Fatal(err)
		}
		if r.Ready() {
			t.Fatal("ready before running")
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		return r, func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}

	rec := newRecorder()
	r, stop := start(rec)
	waitReady(t, r)
	var kvs []string
	for i := range 40 {
		kvs = append(kvs, string(rune('a'+i%20))+"-user", "v")
	}
	e.produce(e.events, append(kvs, "x", "poison")...)
	e.readAll(e.dlq, 1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec.mu.Lock()
		done := rec.outcomes[OutcomeProcessed] >= 40 && rec.outcomes[OutcomeDeadLettered] == 1 && rec.commits > 0 && rec.dead == 1 && rec.lagSeen
		var timers int64
		for _, n := range rec.timers {
			timers += n
		}
		rec.mu.Unlock()
		if done && timers == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics: outcomes %v commits %d dead %d lag %v timers %d; want 40 processed, commits, 1 dead letter, lag, 20 timers", rec.outcomes, rec.commits, rec.dead, rec.lagSeen, timers)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()

	// Restore progress: rebuild every store from the changelog.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	rec = newRecorder()
	r, stop = start(rec)
	defer stop()
	waitReady(t, r)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	// 20 users: a state entry and two timer entries each.
	if got := rec.restoredFrom(e.change); got < 60 {
		t.Errorf("restore progress reported %d changelog entries, want at least 60", got)
	}
	var timers int64
	for _, n := range rec.timers {
		timers += n
	}
	if timers != 20 {
		t.Errorf("after restore %d timers pending, want 20", timers)
	}
}
