package stream

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// TestReadCacheBounded: the cache keeps what it is given, absent keys
// included, and never holds more than its byte bound.
func TestReadCacheBounded(t *testing.T) {
	c := newReadCache(64 << 10)
	c.put("sa", []byte("1"), false)
	c.put("sb", nil, true)
	if row, ok := c.get([]byte("sa")); !ok || row.absent || string(row.value) != "1" {
		t.Fatalf("sa = %+v, %v", row, ok)
	}
	if row, ok := c.get([]byte("sb")); !ok || !row.absent {
		t.Fatalf("sb = %+v, %v; want cached as absent", row, ok)
	}
	c.put("sa", []byte("22"), false)
	if row, _ := c.get([]byte("sa")); string(row.value) != "22" {
		t.Fatalf("sa after overwrite = %q", row.value)
	}
	for i := range 10_000 {
		c.put(fmt.Sprintf("s%05d", i), make([]byte, 100), false)
		if c.bytes > c.max {
			t.Fatalf("after %d puts: %d bytes cached, bound %d", i+1, c.bytes, c.max)
		}
	}
	sum := 0
	for k, row := range c.rows {
		sum += len(k) + len(row.value) + cacheRowOverhead
	}
	if sum != c.bytes {
		t.Fatalf("accounted %d bytes, rows hold %d", c.bytes, sum)
	}
	if len(c.rows) < 200 {
		t.Errorf("only %d rows kept of a 64 KiB cache of ~170-byte rows", len(c.rows))
	}
	// A row larger than a sixteenth of the cache is not cached, and
	// replaces nothing stale.
	c.put("sbig", make([]byte, 8<<10), false)
	if _, ok := c.get([]byte("sbig")); ok {
		t.Error("oversized row cached")
	}
	var off *readCache // StateCacheBytes < 0
	off.put("sa", []byte("1"), false)
	if _, ok := off.get([]byte("sa")); ok {
		t.Error("disabled cache returned a row")
	}
}

// TestRollbackRestoresWrites: a failed message's writes are undone, and
// what the transaction wrote before it stays.
func TestRollbackRestoresWrites(t *testing.T) {
	p := cachedPartition(t)
	w := newWork(&Group{name: "g", deliver: map[string]bool{}}, p)
	ok := &Context{w: w}
	ok.Set([]byte("a"), []byte("1"))
	failed := &Context{w: w}
	failed.Set([]byte("a"), []byte("2"))
	failed.Set([]byte("b"), []byte("x"))
	failed.Delete([]byte("a"))
	w.rollback(failed.undo)
	if v, found, _ := ok.Get([]byte("a")); !found || string(v) != "1" {
		t.Errorf("a = %q, %v after rollback; want 1", v, found)
	}
	if _, found, _ := ok.Get([]byte("b")); found {
		t.Error("b survived the rollback")
	}
	var keys []string
	if err := ok.Range(nil, nil, func(k, _ []byte) bool { keys = append(keys, string(k)); return true }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(keys) != "[a]" {
		t.Errorf("Range after rollback = %v, want [a]", keys)
	}
}

// TestCacheSkipsDueIndex: a committed schedule caches the timer's key
// row (Schedule and Cancel read it) but not its due-index row, which is
// only scanned; the store has both, and the timer fires.
func TestCacheSkipsDueIndex(t *testing.T) {
	p := cachedPartition(t)
	g := &Group{name: "g", deliver: map[string]bool{}}
	w := newWork(g, p)
	c := &Context{w: w}
	due := time.UnixMilli(1_000)
	if err := c.Schedule([]byte("t1"), due, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.commit(); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.cache.get(timerKeyKey([]byte("t1"))); !ok {
		t.Error("the timer's key row is not cached")
	}
	if _, ok := p.cache.get(dueKey(due.UnixMilli(), []byte("t1"))); ok {
		t.Error("the due-index row is cached")
	}
	if got, ok, err := (&Context{w: newWork(g, p)}).TimerDue([]byte("t1")); err != nil || !ok || !got.Equal(due.UTC()) {
		t.Fatalf("TimerDue = %v, %v, %v", got, ok, err)
	}
	fired, err := newWork(g, p).dueTimers(due, 10)
	if err != nil || len(fired) != 1 {
		t.Fatalf("due timers: %d, %v; want the one scheduled", len(fired), err)
	}
}

// TestReadCacheChurnStaysSmall: under steady churn (new keys in, random
// ones evicted, as entering many new users does) the cache's memory stays
// near what its rows need. A Go map does not shrink, and its deleted
// slots made a churned cache grow to about five times that.
func TestReadCacheChurnStaysSmall(t *testing.T) {
	const bound = 2 << 20
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	c := newReadCache(bound)
	for i := range 500_000 {
		c.put(fmt.Sprintf("suser-%07d\x00c%d", i, i%2), nil, true)
	}
	grown := heap() - before
	runtime.KeepAlive(c)
	// The rows' own bytes are the bound; map slots and key strings are
	// about as much again.
	if grown > 3*bound {
		t.Errorf("a %d MiB cache of %d rows after 500,000 puts holds %.1f MiB of heap", bound>>20, len(c.rows), float64(grown)/(1<<20))
	}
}

// TestReadCacheCopiesTableRows: a table row's value comes from a fetched
// record, a slice of the fetch's whole decompressed batch; the cache keeps
// a copy, so a cached row does not keep the batch alive.
func TestReadCacheCopiesTableRows(t *testing.T) {
	c := newReadCache(1 << 20)
	batch := []byte("row-1row-2")
	k := string(tableKey("profiles", []byte("u1")))
	c.put(k, batch[:5], false)
	c.put("su1", batch[5:], false)
	row, _ := c.get([]byte(k))
	if string(row.value) != "row-1" || &row.value[0] == &batch[0] {
		t.Errorf("table row cached as %q sharing the batch: %v", row.value, &row.value[0] == &batch[0])
	}
	// State values are the processor's own; they are kept as given.
	if row, _ := c.get([]byte("su1")); &row.value[0] != &batch[5] {
		t.Error("a state value was copied")
	}
}

// cachedPartition is a partition's state in a temporary store, with a
// 1 MiB row cache, closed at the end of the test.
func cachedPartition(t *testing.T) *partitionState {
	t.Helper()
	st, _, err := openStore(t.TempDir(), 0, false, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.close() })
	return &partitionState{st: st, cache: newReadCache(1 << 20)}
}
