package stream

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// partitionState is an owned partition: its store, whether it is restored,
// and in-memory facts about its timers.
type partitionState struct {
	id    int32
	st    *store
	ready atomic.Bool

	cancelRestore context.CancelFunc
	restored      sync.WaitGroup

	// timerFloor is a key at or below every scheduled due-index entry, so
	// scans for due timers seek past the tombstones fired timers leave at
	// the head of the index. nil means the start of the index.
	timerFloor []byte
	// timers is the number of scheduled timers.
	timers int64
}

// partitionWork is what one transaction did to one partition, applied to
// its store only after Kafka committed the transaction.
type partitionWork struct {
	g     *Group
	p     *partitionState
	batch *pebble.Batch // indexed: reads see the store plus this batch

	// changes holds the last write of each changelog key in this
	// transaction; one changelog record per key is produced at the end.
	changes map[string]write
	// tableNext holds, per table topic, the next offset after the rows
	// applied in this transaction.
	tableNext map[string]int64
	// changelogNext is the offset after the last changelog record produced.
	changelogNext int64
	timers        int64
	timerFloor    []byte
	// floorLowered is set once a schedule in this transaction lowered the
	// floor; firing then stops raising it.
	floorLowered bool
}

func newWork(g *Group, p *partitionState) *partitionWork {
	return &partitionWork{
		g:             g,
		p:             p,
		batch:         p.st.db.NewIndexedBatch(),
		changes:       map[string]write{},
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

// apply folds a message's successful writes into the transaction.
func (w *partitionWork) apply(overlay map[string]write, timers int64) error {
	for k, wr := range overlay {
		var err error
		if wr.del {
			err = w.batch.Delete([]byte(k), nil)
		} else {
			err = w.batch.Set([]byte(k), wr.value, nil)
		}
		if err != nil {
			return err
		}
		if inChangelog([]byte(k)) {
			w.changes[k] = wr
		}
	}
	w.timers += timers
	return nil
}

// commit applies the transaction to the store after Kafka committed it, in
// one batch that also records the offsets the store now reflects.
func (w *partitionWork) commit() error {
	if w.changelogNext >= 0 {
		if err := w.batch.Set(metaChangelog, encodeOffset(w.changelogNext), nil); err != nil {
			return err
		}
	}
	for topic, next := range w.tableNext {
		if err := w.batch.Set(metaTableKey(topic), encodeOffset(next), nil); err != nil {
			return err
		}
	}
	// NoSync: a store that loses its last writes in a machine crash is
	// behind its recorded changelog offset, and restore replays from there.
	if err := w.batch.Commit(pebble.NoSync); err != nil {
		return err
	}
	_ = w.batch.Close()
	w.p.timers += w.timers
	w.p.timerFloor = w.timerFloor
	return nil
}

func (w *partitionWork) discard() { _ = w.batch.Close() }
