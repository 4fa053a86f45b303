package stream

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
)

// partitionState is an owned partition: its store, whether it is restored,
// and in-memory facts about its timers.
type partitionState struct {
	id    int32
	st    *store
	ready atomic.Bool
	// cache holds committed rows read or written recently; nil disables it.
	cache *readCache

	cancelRestore context.CancelFunc
	restored      sync.WaitGroup

	// timerFloor is a key at or below every scheduled due-index entry, so
	// scans for due timers seek past the tombstones fired timers leave at
	// the head of the index. nil means the start of the index.
	timerFloor []byte
	// timers is the number of scheduled timers.
	timers int64
	// tableAhead holds, per table the processor is not delivered, the
	// offset after the last row the store reflects once restored: restore
	// reads such a table to its end, ahead of the group's position, so
	// the partition's first records see every row that existed when it
	// was assigned. The group reads those rows again; they are screened
	// but not applied twice. Set by restore, advanced by apply.
	tableAhead map[string]int64
	// lastWrites is the number of keys the last committed transaction
	// wrote: the next one's write map starts that large instead of
	// growing (and rehashing) key by key.
	lastWrites int

	// failures counts the transactions in a row this partition failed
	// transiently; while backingOff it is paused until retryAt. The
	// processing loop's alone.
	failures   int
	backingOff bool
	retryAt    time.Time

	// restoreFailing is when the restore in progress started failing
	// without success since (zero: not failing), and restoreErr its last
	// error, for Health.
	healthMu       sync.Mutex
	restoreFailing time.Time
	restoreErr     error

	// queryMu is held shared by a Query reading the store and exclusively
	// by whoever closes it, so a query never reads a closed store.
	queryMu sync.RWMutex
}

// closeStore closes the partition's store once no Query reads it.
func (p *partitionState) closeStore() error {
	p.queryMu.Lock()
	defer p.queryMu.Unlock()
	return p.st.close()
}

// storeFault, when a test sets it, is asked before a store write ("commit"
// of a transaction, "restore") and fails it with the error it returns.
var storeFault func(op string, partition int32) error

// partitionWork is what one transaction did to one partition, applied to
// its store in one batch only after Kafka committed the transaction.
//
// The writes live in a map, not in an indexed Pebble batch: a point read
// is then a map lookup, and a write a map assignment rather than a
// skiplist insert. Iteration (Range, due timers) merges the store with the
// keys written in the range, which are kept sorted lazily.
type partitionWork struct {
	g *Group
	p *partitionState

	// writes holds the last write of each key in this transaction; one
	// changelog record per changelog key is produced at the end.
	writes map[string]write
	// sorted holds keys of writes in order; unsorted the keys added since
	// it was last brought up to date. A key rolled back from writes may
	// linger in either; readers check writes.
	sorted, unsorted []string
	// tableNext holds, per table topic, the next offset after the rows
	// applied in this transaction.
	tableNext map[string]int64
	// changelogNext is the offset after the last changelog record produced.
	changelogNext int64
	timers        int64
	timerFloor    []byte
	// fired is set once a timer fired in this transaction.
	fired bool
	// floorLowered is set once a schedule in this transaction lowered the
	// floor; firing then stops raising it.
	floorLowered bool
	// out is what the partition handled, reported when the transaction
	// ends.
	out outcomes
	// ctx is the Context of the message being processed (txn.process).
	ctx Context
}

func newWork(g *Group, p *partitionState) *partitionWork {
	return &partitionWork{
		g:             g,
		p:             p,
		writes:        make(map[string]write, p.lastWrites),
		tableNext:     map[string]int64{},
		changelogNext: -1,
		timerFloor:    p.timerFloor,
	}
}

// lowerTimerFloor keeps the floor at or below a newly scheduled entry.
func (w *partitionWork) lowerTimerFloor(dk []byte) {
	if w.timerFloor != nil && bytes.Compare(dk, w.timerFloor) < 0 {
		w.timerFloor = bytes.Clone(dk)
		w.floorLowered = true
	}
}

// raiseTimerFloor moves the floor to a timer being fired, unless a schedule
// in this transaction already put an entry below it.
func (w *partitionWork) raiseTimerFloor(dk []byte) {
	if !w.floorLowered {
		w.timerFloor = dk
	}
}

// get reads k as this transaction sees it: its own writes, then the
// committed state (cache, then store). The value must not be modified.
func (w *partitionWork) get(k []byte) ([]byte, bool, error) {
	if wr, ok := w.writes[string(k)]; ok {
		return wr.value, !wr.del, nil
	}
	if row, ok := w.p.cache.get(k); ok {
		return row.value, !row.absent, nil
	}
	v, closer, err := w.p.st.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		w.p.cache.put(string(k), nil, true)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v = bytes.Clone(v)
	_ = closer.Close()
	w.p.cache.put(string(k), v, false)
	return v, true, nil
}

// set records a write of k, returning what it replaces so a failed message
// can be rolled back.
func (w *partitionWork) set(k string, wr write) undo {
	prev, existed := w.writes[k]
	if !existed {
		w.unsorted = append(w.unsorted, k)
	}
	w.writes[k] = wr
	return undo{key: k, prev: prev, existed: existed}
}

// undo is what a write replaced.
type undo struct {
	key     string
	prev    write
	existed bool
}

// rollback reverts writes, newest first.
func (w *partitionWork) rollback(undos []undo) {
	for i := len(undos) - 1; i >= 0; i-- {
		u := undos[i]
		if u.existed {
			w.writes[u.key] = u.prev
		} else {
			delete(w.writes, u.key)
		}
	}
}

// pending returns this transaction's writes to keys in [lo, hi) (hi nil:
// no upper bound), in key order.
func (w *partitionWork) pending(lo, hi []byte) []pendingWrite {
	if len(w.unsorted) > 0 {
		slices.Sort(w.unsorted)
		merged := make([]string, 0, len(w.sorted)+len(w.unsorted))
		i, j := 0, 0
		for i < len(w.sorted) || j < len(w.unsorted) {
			var k string
			switch {
			case j == len(w.unsorted) || (i < len(w.sorted) && w.sorted[i] < w.unsorted[j]):
				k, i = w.sorted[i], i+1
			default:
				k, j = w.unsorted[j], j+1
			}
			if _, ok := w.writes[k]; ok && (len(merged) == 0 || merged[len(merged)-1] != k) {
				merged = append(merged, k)
			}
		}
		w.sorted, w.unsorted = merged, w.unsorted[:0]
	}
	from, _ := slices.BinarySearch(w.sorted, string(lo))
	var out []pendingWrite
	for _, k := range w.sorted[from:] {
		if hi != nil && k >= string(hi) {
			break
		}
		if wr, ok := w.writes[k]; ok {
			out = append(out, pendingWrite{key: k, write: wr})
		}
	}
	return out
}

type pendingWrite struct {
	key string
	write
}

// scan calls fn for each live key in [lo, hi) as this transaction sees
// it, in key order, until fn returns false. Keys and values are only valid
// during fn.
func (w *partitionWork) scan(lo, hi []byte, fn func(k, v []byte) bool) error {
	pending := w.pending(lo, hi)
	it, err := w.p.st.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	valid := it.First()
	for valid || len(pending) > 0 {
		var cmp int
		switch {
		case !valid:
			cmp = 1
		case len(pending) == 0:
			cmp = -1
		default:
			cmp = bytes.Compare(it.Key(), []byte(pending[0].key))
		}
		if cmp < 0 { // the store's key comes first
			if !fn(it.Key(), it.Value()) {
				return nil
			}
			valid = it.Next()
			continue
		}
		// The transaction's write comes first or shadows the store's.
		pw := pending[0]
		pending = pending[1:]
		if cmp == 0 {
			valid = it.Next()
		}
		if !pw.del && !fn([]byte(pw.key), pw.value) {
			return nil
		}
	}
	return it.Error()
}

// commit applies the transaction to the store after Kafka committed it, in
// one batch that also records the offsets the store now reflects.
func (w *partitionWork) commit() error {
	if storeFault != nil {
		if err := storeFault("commit", w.p.id); err != nil {
			return err
		}
	}
	b := w.p.st.db.NewBatch()
	defer b.Close()
	for k, wr := range w.writes {
		// The batch copies the key: it can be the string's own bytes.
		key := unsafe.Slice(unsafe.StringData(k), len(k))
		var err error
		if wr.del {
			err = b.Delete(key, nil)
		} else {
			err = b.Set(key, wr.value, nil)
		}
		if err != nil {
			return err
		}
	}
	if w.changelogNext >= 0 {
		if err := b.Set(metaChangelog, encodeOffset(w.changelogNext), nil); err != nil {
			return err
		}
	}
	for topic, next := range w.tableNext {
		if ahead, ok := w.p.tableAhead[topic]; ok && next <= ahead {
			continue // the store already reflects more of the table
		}
		if err := b.Set(metaTableKey(topic), encodeOffset(next), nil); err != nil {
			return err
		}
	}
	// NoSync: a store that loses its last writes in a machine crash is
	// behind its recorded changelog offset, and restore replays from there.
	if err := b.Commit(pebble.NoSync); err != nil {
		return err
	}
	for k, wr := range w.writes {
		if k[0] == nsDue {
			// The due-time index is only scanned, never read by key:
			// caching its rows would take the room of rows that are.
			w.p.cache.drop(k)
			continue
		}
		w.p.cache.put(k, wr.value, wr.del)
	}
	for topic, next := range w.tableNext {
		if ahead, ok := w.p.tableAhead[topic]; ok && next > ahead {
			w.p.tableAhead[topic] = next
		}
	}
	w.p.timers += w.timers
	w.p.timerFloor = w.timerFloor
	w.p.lastWrites = len(w.writes)
	return nil
}
