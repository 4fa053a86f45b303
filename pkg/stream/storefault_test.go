package stream

import (
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestStoreWriteFailureRestoresThePartition: when a committed transaction
// cannot be written to a partition's store, the partition is restored
// from its changelog instead of staying not ready while assigned; while
// the restore keeps failing, Health says so, and once it succeeds the
// state includes the transaction whose write failed.
func TestStoreWriteFailureRestoresThePartition(t *testing.T) {
	e := newEnv(t)
	on, off := keysOn(e.events, 1, 1)
	var commitFaults, restoreFaults atomic.Int32
	var restoring atomic.Bool
	storeFault = func(op string, p int32) error {
		if p != 1 {
			return nil
		}
		switch {
		case op == "commit" && commitFaults.Add(-1) >= 0:
			return errors.New("injected: disk write failed")
		case op == "restore" && restoring.Load():
			restoreFaults.Add(1)
			return errors.New("injected: disk still failing")
		}
		return nil
	}
	t.Cleanup(func() { storeFault = nil })

	r, err := New(e.counter(), Options{Kafka: []kgo.Opt{kgo.SeedBrokers(e.brokers...)}, StateDir: t.TempDir(), InstanceID: "a",
		RetryBackoff: 50 * time.Millisecond, UnhealthyAfter: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	e.start(r)
	waitReady(t, r)
	e.produce(e.events, on[0], "x")
	e.readAll(e.out, 1)

	commitFaults.Store(1)
	restoring.Store(true)
	e.produce(e.events, on[0], "x")
	e.readAll(e.out, 2) // Kafka committed the transaction
	waitFor(t, "the partition to be restoring", func() bool { return !r.Ready() && restoreFaults.Load() > 0 })
	waitFor(t, "Health to report the failing restore", func() bool {
		err := r.Health()
		return err != nil && strings.Contains(err.Error(), "partition 1: restore failing") && strings.Contains(err.Error(), "disk still failing")
	})
	// The other partitions keep going meanwhile.
	e.produce(e.events, off[0], "x")
	if got := values(e.readAll(e.out, 3)); got[off[0]+"=1"] != 1 {
		t.Fatalf("another partition's record was not processed while partition 1 restored: %v", got)
	}

	restoring.Store(false)
	waitFor(t, "the partition to be ready again", func() bool { return r.Ready() && r.Health() == nil })
	e.produce(e.events, on[0], "x")
	got := values(e.readAll(e.out, 4))
	if got[on[0]+"=3"] != 1 || got[on[0]+"=2"] != 1 {
		t.Fatalf("outputs %v: want %s=3 once (the restored store has the write that failed)", got, on[0])
	}
}
