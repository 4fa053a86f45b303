package stream

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Errors of Query: the partition's state is not here to be read. Both are
// passing conditions of a rebalance; a caller answers "retry", never
// "absent".
var (
	// ErrNotOwned: this runner does not own the partition (never did, or
	// it was revoked).
	ErrNotOwned = errors.New("partition not owned by this instance")
	// ErrNotRestored: this runner owns the partition but its store is
	// still being restored from the changelog.
	ErrNotRestored = errors.New("partition state is being restored")
)

// View reads a partition's committed state (interactive queries). It is a
// consistent snapshot: every transaction the store reflects, whole, and
// none of the one in progress.
type View interface {
	// Get returns the state value of key, or ok false. The value stays
	// valid after the call.
	Get(key []byte) (value []byte, ok bool, err error)
	// Range calls fn for each state key in [start, end) in key order (end
	// nil: no upper bound) until fn returns false. Keys and values are
	// only valid during fn.
	Range(start, end []byte, fn func(key, value []byte) bool) error
}

// Query calls fn with a view of partition's committed state, if this
// runner owns the partition and has restored it; otherwise it returns
// ErrNotOwned or ErrNotRestored without calling fn. The view is only
// valid during fn; the partition is not closed (revoked) while fn runs,
// so keep fn short.
func (r *Runner) Query(partition int32, fn func(View) error) error {
	r.mu.Lock()
	p := r.parts[partition]
	r.mu.Unlock()
	if p == nil || !r.running.Load() {
		return ErrNotOwned
	}
	p.queryMu.RLock()
	defer p.queryMu.RUnlock()
	if !p.ready.Load() || p.st == nil || p.st.db == nil {
		return ErrNotRestored
	}
	snap := p.st.db.NewSnapshot()
	defer snap.Close()
	return fn(snapshotView{snap})
}

type snapshotView struct{ s *pebble.Snapshot }

func (v snapshotView) Get(key []byte) ([]byte, bool, error) {
	val, c, err := v.s.Get(stateKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state get: %w", err)
	}
	defer c.Close()
	return append([]byte(nil), val...), true, nil
}

func (v snapshotView) Range(start, end []byte, fn func(key, value []byte) bool) error {
	hi := prefixEnd([]byte{nsState})
	if end != nil {
		hi = stateKey(end)
	}
	it, err := v.s.NewIter(&pebble.IterOptions{LowerBound: stateKey(start), UpperBound: hi})
	if err != nil {
		return fmt.Errorf("state range: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		if !fn(it.Key()[1:], it.Value()) {
			break
		}
	}
	if err := it.Error(); err != nil {
		_ = it.Close()
		return fmt.Errorf("state range: %w", err)
	}
	return it.Close()
}

// PartitionOf returns the partition of topic (an input or table of the
// group) that holds key, by the partition counts this runner last read
// (a group with CheckPartitioning reads them before its first restore);
// ok false before it read them, without CheckPartitioning, or for
// another topic.
func (r *Runner) PartitionOf(topic string, key []byte) (partition int32, ok bool) {
	r.countsMu.RLock()
	n := r.counts[topic]
	r.countsMu.RUnlock()
	if n <= 0 {
		return 0, false
	}
	return PartitionFor(key, n), true
}
