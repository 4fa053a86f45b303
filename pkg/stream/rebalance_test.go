package stream

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestRebalanceThreeMembers: members join one by one and leave while
// events flow. No partition is processed by two members at once, and state
// follows its partition: every user's count goes 1, 2, 3... exactly once,
// whichever member processed each event.
func TestRebalanceThreeMembers(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	active := map[int32]string{} // partition -> member processing it right now
	owners := map[int32]map[string]bool{}
	var overlaps []string
	g, err := Define(e.prefix+"rebalance", Input(e.events), Changelog(e.change), DeadLetter(e.dlq), Process(func(c *Context, m Message) error {
		me := string(c.w.p.st.dir) // unique per member: each has its own state dir
		mu.Lock()
		if other, busy := active[m.Partition]; busy && other != me {
			overlaps = append(overlaps, fmt.Sprintf("partition %d by %s and %s", m.Partition, other, me))
		}
		active[m.Partition] = me
		if owners[m.Partition] == nil {
			owners[m.Partition] = map[string]bool{}
		}
		owners[m.Partition][me] = true
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(active, m.Partition)
			mu.Unlock()
		}()
		time.Sleep(time.Millisecond) // widen the window an overlap would show in
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
	const users, rounds = 12, 8
	produceRound := func() {
		var kvs []string
		for u := range users {
			kvs = append(kvs, fmt.Sprintf("u%02d", u), "x")
		}
		e.produce(e.events, kvs...)
	}

	a, stopA := e.run(g, "a", t.TempDir(), nil)
	waitReady(t, a)
	produceRound()
	produceRound()
	b, _ := e.run(g, "b", t.TempDir(), nil)
	produceRound()
	produceRound()
	c, _ := e.run(g, "c", t.TempDir(), nil)
	produceRound()
	produceRound()
	waitOwned(t, 3, a, b, c) // all three own partitions
	stopA()                  // a leaves; its partitions move with their state
	produceRound()
	produceRound()

	got := values(e.readAll(e.out, users*rounds))
	for u := range users {
		for n := 1; n <= rounds; n++ {
			if k := fmt.Sprintf("u%02d=%d", u, n); got[k] != 1 {
				t.Errorf("%s seen %d times, want once", k, got[k])
			}
		}
	}
	if len(got) != users*rounds {
		t.Errorf("%d distinct outputs, want %d", len(got), users*rounds)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, o := range overlaps {
		t.Error("processed concurrently: " + o)
	}
	moved := 0
	for _, m := range owners {
		if len(m) > 1 {
			moved++
		}
	}
	if moved == 0 {
		t.Error("no partition changed members: the test did not exercise a rebalance")
	}
	t.Logf("%d of %d partitions were processed by more than one member over the test", moved, testPartitions)
}

// waitOwned waits until each runner owns and has restored a partition.
func waitOwned(t *testing.T, n int, rs ...*Runner) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		owning := 0
		for _, r := range rs {
			if len(r.Partitions()) > 0 && r.Ready() {
				owning++
			}
		}
		if owning >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d runners own partitions after 45s", owning, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
