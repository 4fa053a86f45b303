package stream

import (
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestStuckLoopIsUnhealthy: a processor that never returns stops the
// processing loop; Health reports the stall (a liveness probe restarts
// the process) once the loop has not turned for UnhealthyAfter beyond
// what a slow transaction may take, and is healthy again once the loop
// turns.
func TestStuckLoopIsUnhealthy(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	g, err := Define(e.prefix+"stuck", Input(e.events), Changelog(e.change), DeadLetter(e.dlq), Output(e.out),
		Process(func(c *Context, m Message) error {
			if string(m.Value) == "block" {
				<-release
			}
			c.Emit(e.out, m.Key, m.Value)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(g, Options{Kafka: []kgo.Opt{kgo.SeedBrokers(e.brokers...)}, StateDir: t.TempDir(), InstanceID: "stuck",
		UnhealthyAfter: 200 * time.Millisecond, TransactionTimeout: time.Second, RetryBackoff: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		t.Fatal(err)
	}
	e.start(r)
	waitReady(t, r)
	e.produce(e.events, "u", "ok")
	e.readAll(e.out, 1)
	if err := r.Health(); err != nil {
		t.Fatalf("healthy runner: %v", err)
	}

	e.produce(e.events, "u", "block")
	began := time.Now()
	waitFor(t, "Health to report the stalled loop", func() bool {
		err := r.Health()
		return err != nil && strings.Contains(err.Error(), "processing loop stalled")
	})
	if took, least := time.Since(began), 200*time.Millisecond+time.Second; took < least {
		t.Errorf("stall reported after %v, before UnhealthyAfter plus the transaction timeout (%v)", took, least)
	}
	close(release)
	waitFor(t, "Health to recover once the loop turns", func() bool { return r.Health() == nil })
	e.produce(e.events, "u", "after")
	got := values(e.readAll(e.out, 3))
	if got["after"] != 1 {
		t.Errorf("outputs %v: want the record after the stall processed", got)
	}
}
