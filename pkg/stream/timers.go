package stream

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The timer index is a queue inside each partition store: due-ordered
// entries d<due><key> that fire from the head. Firing deletes entries, and
// in an LSM every delete is a tombstone that later scans must step over
// until compaction drops it; a queue's head is where they pile up. Two
// things keep scans cheap: each partition remembers a floor key below which
// everything has fired and seeks there instead of to the start of the index
// (so a scan never walks the tombstones of earlier firings), and Pebble's
// tombstone-density compaction (Options.Experimental.
// TombstoneDenseCompactionThreshold, on by default) rewrites blocks made
// mostly of tombstones.

// dueTimer is one timer ready to fire.
type dueTimer struct {
	dueKey  []byte
	key     []byte
	due     time.Time
	payload []byte
}

// hasDue reports whether the store has a timer due at or before now.
func (p *partitionState) hasDue(now time.Time) bool {
	lo := p.timerFloor
	if lo == nil {
		lo = []byte{nsDue}
	}
	hi := binary.BigEndian.AppendUint64([]byte{nsDue}, uint64(now.UnixMilli()+1))
	if bytes.Compare(lo, hi) >= 0 {
		return false
	}
	it, err := p.st.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return true // let the transaction's scan report the error
	}
	defer it.Close()
	return it.First()
}

// dueTimers returns up to max timers of the partition due at or before now,
// in due order, as the transaction sees them.
func (w *partitionWork) dueTimers(now time.Time, max int) ([]dueTimer, error) {
	lo := w.timerFloor
	if lo == nil {
		lo = []byte{nsDue}
	}
	hi := binary.BigEndian.AppendUint64([]byte{nsDue}, uint64(now.UnixMilli()+1))
	if bytes.Compare(lo, hi) >= 0 {
		return nil, nil
	}
	var out []dueTimer
	err := w.scan(lo, hi, func(k, v []byte) bool {
		if len(k) >= 9 {
			out = append(out, dueTimer{
				dueKey:  bytes.Clone(k),
				key:     bytes.Clone(k[9:]),
				due:     time.UnixMilli(int64(binary.BigEndian.Uint64(k[1:9]))).UTC(),
				payload: bytes.Clone(v),
			})
		}
		return len(out) < max
	})
	if err != nil {
		return nil, fmt.Errorf("timer scan: %w", err)
	}
	return out, nil
}

// countTimers counts a restored partition's scheduled timers, once, so the
// pending gauge is right without scanning on every change.
func countTimers(db *pebble.DB) (int64, error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{nsTimerKey}, UpperBound: []byte{nsTimerKey + 1}})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	var n int64
	for valid := it.First(); valid; valid = it.Next() {
		n++
	}
	return n, it.Error()
}
