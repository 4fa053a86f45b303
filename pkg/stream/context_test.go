package stream

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRangeMergesPendingWrites: Range sees the store, the transaction's
// earlier writes and the message's own writes and deletes, in key order.
func TestRangeMergesPendingWrites(t *testing.T) {
	st, _, err := openStore(t.TempDir(), 0, false, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	p := &partitionState{st: st}
	g := &Group{name: "g", deliver: map[string]bool{}}

	// Committed: cart/1, cart/3, cart/5.
	w := newWork(g, p)
	c := &Context{now: time.Now(), w: w}
	for _, k := range []string{"cart/1", "cart/3", "cart/5", "other"} {
		c.Set([]byte(k), []byte("v"+k))
	}
	if err := w.commit(); err != nil {
		t.Fatal(err)
	}
	// Earlier in this transaction: cart/2 added, cart/3 deleted.
	w = newWork(g, p)
	c = &Context{now: time.Now(), w: w}
	c.Set([]byte("cart/2"), []byte("vcart/2"))
	c.Delete([]byte("cart/3"))
	// This message: cart/4 added, cart/5 replaced, cart/1 deleted.
	c = &Context{now: time.Now(), w: w}
	c.Set([]byte("cart/4"), []byte("vcart/4"))
	c.Set([]byte("cart/5"), []byte("new"))
	c.Delete([]byte("cart/1"))

	var got []string
	if err := c.Range([]byte("cart/"), []byte("cart0"), func(k, v []byte) bool {
		got = append(got, fmt.Sprintf("%s=%s", k, v))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(got, " "); s != "cart/2=vcart/2 cart/4=vcart/4 cart/5=new" {
		t.Fatalf("Range = %s", s)
	}
	got = nil
	_ = c.Range(nil, nil, func(k, v []byte) bool { got = append(got, string(k)); return len(got) < 2 })
	if strings.Join(got, " ") != "cart/2 cart/4" {
		t.Fatalf("Range with early stop = %v", got)
	}
	if v, ok, _ := c.Get([]byte("cart/1")); ok {
		t.Errorf("deleted key still readable: %q", v)
	}
}

// TestByTimestamp: records of several topics of one partition are ordered
// by timestamp, each topic keeping its offset order, table rows first on
// ties.
func TestByTimestamp(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	rec := func(topic string, offset int64, ts int) *kgo.Record {
		return &kgo.Record{Topic: topic, Offset: offset, Timestamp: at(ts)}
	}
	in := []*kgo.Record{
		rec("events", 0, 5), rec("events", 1, 7), rec("events", 2, 6), // out of time order within a topic: kept
		rec("profiles", 0, 4), rec("profiles", 1, 7),
		rec("receipts", 0, 1),
	}
	got := byTimestamp(in, func(topic string) bool { return topic == "profiles" })
	var order []string
	for _, r := range got {
		order = append(order, fmt.Sprintf("%s@%d", r.Topic, r.Offset))
	}
	want := "receipts@0 profiles@0 events@0 profiles@1 events@1 events@2"
	if strings.Join(order, " ") != want {
		t.Fatalf("order %s\nwant  %s", strings.Join(order, " "), want)
	}
}

// TestViewSharesWhatGetCopies: View reads what Get reads (the store, the
// row cache, the transaction's writes, absent keys), and what a processor
// does to Get's copy or to the slice it gave Set changes neither.
func TestViewSharesWhatGetCopies(t *testing.T) {
	p := cachedPartition(t)
	g := &Group{name: "g", deliver: map[string]bool{}}

	w := newWork(g, p)
	c := &Context{now: time.Now(), w: w}
	given := []byte("committed")
	c.Set([]byte("a"), given)
	given[0] = 'X' // Set copied it
	if err := w.commit(); err != nil {
		t.Fatal(err)
	}
	w = newWork(g, p)
	c = &Context{now: time.Now(), w: w}
	c.Set([]byte("b"), []byte("pending"))
	for _, tc := range []struct{ key, want string }{{"a", "committed"}, {"b", "pending"}, {"none", ""}} {
		for range 2 { // a store read, then the row cache's
			got, ok, err := c.Get([]byte(tc.key))
			view, vok, verr := c.View([]byte(tc.key))
			if err != nil || verr != nil || ok != (tc.want != "") || vok != ok || string(got) != tc.want || string(view) != tc.want {
				t.Fatalf("%s: Get %q %v %v, View %q %v %v; want %q", tc.key, got, ok, err, view, vok, verr, tc.want)
			}
			if ok {
				got[0] = 'X' // Get's copy is the processor's own
			}
		}
	}
}

// TestPrefixDeletes: DeletePrefix removes exactly the state keys with the
// prefix, committed or written earlier in the transaction, and
// CancelPrefix exactly the timers, their due-index entries with them;
// keys that only share the prefix's first bytes stay.
func TestPrefixDeletes(t *testing.T) {
	p := cachedPartition(t)
	g := &Group{name: "g", deliver: map[string]bool{}}
	due := time.Now().Add(time.Hour)

	w := newWork(g, p)
	c := &Context{now: time.Now(), w: w}
	for _, k := range []string{"u1", "u1\x00a", "u1\x00b", "u10\x00a", "u2\x00a"} {
		c.Set([]byte(k), []byte("v"))
		if err := c.Schedule([]byte(k), due, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.commit(); err != nil {
		t.Fatal(err)
	}
	w = newWork(g, p)
	c = &Context{now: time.Now(), w: w}
	c.Set([]byte("u1\x00c"), []byte("v")) // written earlier in the transaction
	if err := c.Schedule([]byte("u1\x00c"), due, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.DeletePrefix([]byte("u1\x00")); err != nil {
		t.Fatal(err)
	}
	if err := c.CancelPrefix([]byte("u1\x00")); err != nil {
		t.Fatal(err)
	}
	if err := w.commit(); err != nil {
		t.Fatal(err)
	}
	c = &Context{now: time.Now(), w: newWork(g, p)}
	var keys []string
	_ = c.Range(nil, nil, func(k, _ []byte) bool { keys = append(keys, strings.ReplaceAll(string(k), "\x00", "/")); return true })
	if got := strings.Join(keys, " "); got != "u1 u10/a u2/a" {
		t.Errorf("state after DeletePrefix: %s", got)
	}
	for k, want := range map[string]bool{"u1": true, "u1\x00a": false, "u1\x00b": false, "u1\x00c": false, "u10\x00a": true, "u2\x00a": true} {
		if _, ok, err := c.TimerDue([]byte(k)); err != nil || ok != want {
			t.Errorf("timer %q scheduled %v, want %v (%v)", k, ok, want, err)
		}
	}
	timers, err := c.w.dueTimers(due.Add(time.Second), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(timers) != 3 {
		t.Errorf("%d entries in the due index, want 3", len(timers))
	}
}
