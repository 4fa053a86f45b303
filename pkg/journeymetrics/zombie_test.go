package journeymetrics

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// TestZombieCountsNothing: a processor stalls in the middle of a
// transaction that has already counted and emitted; a new incarnation with
// the same instance ID takes its partitions (fencing it) and processes the
// same records; then the stalled one wakes and tries to commit. Nothing
// the zombie counted is visible and nothing is counted twice.
func TestZombieCountsNothing(t *testing.T) {
	const parts, users = 3, 12
	e := newEnv(t, parts, topics.Options{})
	var stall atomic.Bool
	stall.Store(true)
	stalled := make(chan struct{})
	release := make(chan struct{})
	zombieFault := func(m stream.Message) error {
		if m.Topic == e.topic("activity") && string(m.Key) == "user-stall" && stall.CompareAndSwap(true, false) {
			close(stalled)
			select {
			case <-release:
			case <-time.After(2 * time.Minute):
			}
		}
		return nil
	}
	group := e.prefix + "metrics"
	zombie, err := New(Config{Topics: e.layout, Codec: e.codec, Group: group, fault: zombieFault})
	if err != nil {
		t.Fatal(err)
	}
	opts := stream.Options{InstanceID: "a", StateDir: t.TempDir(), RetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond}
	zr, stopZombie := e.startGroup(zombie.Group(), opts, false)
	waitFor(t, "the first incarnation to own every partition", func() bool { return zr.Ready() && int32(len(zr.Partitions())) == parts })
	r := e.follow()

	for i := range users / 2 {
		produceUser(e, i)
	}
	e.produce("activity", "user-stall", records.Activity{ActivityID: "stall-1", InstanceID: "inst-stall", JourneyID: "j", JourneyVersion: 1,
		UserID: "user-stall", StepID: "wait", Kind: records.ActivityEntered, At: t0})
	<-stalled

	p, err := New(Config{Topics: e.layout, Codec: e.codec, Group: group})
	if err != nil {
		t.Fatal(err)
	}
	opts.StateDir = t.TempDir()
	e.runGroup(p.Group(), opts)
	for i := users / 2; i < users; i++ {
		produceUser(e, i)
	}
	n := e.sentinels("1", t0)
	waitFor(t, "the sentinels", func() bool {
		rep, err := r.Journey("sentinel", Query{})
		return err == nil && rep.Totals.Delivered >= n
	})
	close(release)
	stopZombie()
	// The zombie's attempt is over; one more round of sentinels makes sure
	// anything it could have committed would be read by now.
	n += e.sentinels("2", t0)
	waitFor(t, "the second sentinels", func() bool {
		rep, err := r.Journey("sentinel", Query{})
		return err == nil && rep.Totals.Delivered >= n
	})
	want := wantAfter(users)
	want["entered"]++
	want["hour0/entered"]++
	want["active"]++
	want["active@wait"]++
	checkReport(t, r, want)
}
