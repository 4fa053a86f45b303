package stream

import (
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a wall clock tests move by hand.
type fakeClock struct{ ms atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ms.Store(t.UnixMilli())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.UnixMilli(c.ms.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

func TestTimersFireOnceAndCancel(t *testing.T) {
	e := newEnv(t)
	clock := newFakeClock(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	g, err := Define(e.prefix+"timers", Input(e.events), Changelog(e.change), DeadLetter(e.dlq), Process(func(c *Context, m Message) error {
		switch {
		case m.Kind == KindTimer:
			c.Emit(e.out, m.Key, append([]byte("fired:"), m.Value...))
		case string(m.Value) == "cancel":
			return c.Cancel(m.Key)
		default:
			// A later schedule of the same key replaces the earlier one.
			if err := c.Schedule(m.Key, c.Now().Add(10*time.Minute), m.Value); err != nil {
				return err
			}
			c.Emit(e.out, m.Key, append([]byte("scheduled:"), m.Value...))
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := e.run(g, "a", t.TempDir(), clock.Now)
	waitReady(t, r)
	e.produce(e.events, "u1", "first", "u1", "second", "u2", "doomed", "u2", "cancel", "u3", "third")
	e.readAll(e.out, 4) // the schedules are committed
	clock.Advance(9 * time.Minute)
	time.Sleep(300 * time.Millisecond)
	clock.Advance(2 * time.Minute)
	got := values(e.readAll(e.out, 6))
	want := map[string]int{"scheduled:first": 1, "scheduled:second": 1, "scheduled:doomed": 1, "scheduled:third": 1, "fired:second": 1, "fired:third": 1}
	if len(got) != len(want) {
		t.Fatalf("outputs %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s seen %d times, want %d (all: %v)", k, got[k], n, got)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		pending := int64(0)
		for _, p := range r.parts {
			pending += p.timers
		}
		r.mu.Unlock()
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d timers still pending after all fired", pending)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTimerBurstIsBounded: due timers are fired at most
// MaxTimersPerPartition per transaction, in due order.
func TestDueTimersBoundedAndOrdered(t *testing.T) {
	st, _, err := openStore(t.TempDir(), 0, false, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	p := &partitionState{id: 0, st: st}
	g := &Group{name: "g", deliver: map[string]bool{}}
	w := newWork(g, p)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &Context{now: now, w: w}
	for i := range 10 {
		if err := c.Schedule([]byte{byte('a' + i)}, now.Add(-time.Duration(10-i)*time.Second), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Schedule([]byte("future"), now.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	w.timers += c.timers
	due, err := w.dueTimers(now, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 4 || string(due[0].key) != "a" || string(due[3].key) != "d" {
		t.Fatalf("due = %v, want a..d", due)
	}
	if w.timers != 11 {
		t.Errorf("pending timers %d, want 11", w.timers)
	}
	all, _ := w.dueTimers(now, 100)
	if len(all) != 10 {
		t.Errorf("%d due, want 10 (the future one is not due)", len(all))
	}
}
