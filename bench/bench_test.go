package bench

import (
	"testing"
	"time"
)

func TestEventAndOutputCarryStampAndCount(t *testing.T) {
	sent := time.Unix(1_700_000_000, 123456789)
	ev := EncodeEvent(sent, 42)
	if len(ev) != EventSize {
		t.Fatalf("event of %d bytes, want %d", len(ev), EventSize)
	}
	out := EncodeOutput(ev, 7)
	got, seq, ok := Stamp(out)
	if !ok || !got.Equal(sent) || seq != 42 {
		t.Fatalf("Stamp(output) = %v, %d, %v; want %v, 42, true", got, seq, ok, sent)
	}
	if n, ok := OutputCount(out); !ok || n != 7 {
		t.Fatalf("OutputCount = %d, %v; want 7, true", n, ok)
	}
	if _, _, ok := Stamp([]byte("short")); ok {
		t.Fatal("Stamp accepted a 5-byte value")
	}
}

func TestUserIndexParsesUserKey(t *testing.T) {
	for _, i := range []int{0, 9, 1234567} {
		if got, ok := UserIndex(UserKey(i)); !ok || got != i {
			t.Errorf("UserIndex(UserKey(%d)) = %d, %v", i, got, ok)
		}
	}
	for _, k := range []string{"", "user-", "user-12x", "timer-0000001"} {
		if _, ok := UserIndex([]byte(k)); ok {
			t.Errorf("UserIndex(%q) accepted", k)
		}
	}
}

func TestPlanSpreadsEveryEvent(t *testing.T) {
	p := NewPlan(10_000, 100, 1)
	sum := 0
	for _, n := range p.PerUser {
		sum += n
	}
	if sum != 10_000 {
		t.Fatalf("per-user counts add up to %d, want 10000", sum)
	}
	if q := NewPlan(10_000, 100, 1); q.PerUser[17] != p.PerUser[17] {
		t.Fatal("the same seed gave a different plan")
	}
}

func TestSummariseNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	l := Summarise(d)
	if l.N != 100 || l.P50 != 50*time.Millisecond || l.P99 != 99*time.Millisecond || l.Max != 100*time.Millisecond {
		t.Fatalf("Summarise = %+v", l)
	}
	if (Summarise(nil) != Latencies{}) {
		t.Fatal("empty sample not zero")
	}
}

func TestStartClockStandsStillUntilStart(t *testing.T) {
	base := time.Unix(2_000_000_000, 0)
	c := &StartClock{Base: base}
	if got := c.Now(); !got.Before(base) {
		t.Fatalf("before Start the clock shows %v, want before %v", got, base)
	}
	c.Start()
	time.Sleep(5 * time.Millisecond)
	if got := c.Now().Sub(base); got < 5*time.Millisecond || got > time.Second {
		t.Fatalf("5ms after Start the clock is %v past base", got)
	}
}

func TestTimerOutputRoundTrip(t *testing.T) {
	due, fired := time.UnixMilli(1_700_000_000_000), time.UnixMilli(1_700_000_000_250)
	d, f, ok := TimerOutput(EncodeTimerOutput(due, fired))
	if !ok || !d.Equal(due) || !f.Equal(fired) {
		t.Fatalf("TimerOutput = %v, %v, %v", d, f, ok)
	}
}
