package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// Key namespaces inside a partition store. State and timers travel through
// the changelog; tables are restored from their own topics; meta records
// what the store reflects and never leaves the machine.
const (
	nsState    byte = 's' // s<key>                  processing state
	nsTable    byte = 't' // t<topic>\x00<key>        co-partitioned table rows
	nsDue      byte = 'd' // d<due ms BE><timer key>  timer due index -> payload
	nsTimerKey byte = 'k' // k<timer key>             timer -> due ms BE
	nsMeta     byte = 'm' // m<name>                  offsets the store reflects
	// nsGlobalDead ('x', validate.go): how far rejected global rows were
	// dead-lettered.
)

var metaChangelog = []byte("mchangelog")

func metaTableKey(topic string) []byte { return append([]byte("mtable:"), topic...) }

// store is the Pebble state of one partition.
type store struct {
	partition int32
	dir       string
	db        *pebble.DB
}

// openStore opens the partition's store, or wipes and recreates it when it
// cannot be opened: the changelog is the source of truth, so a corrupt local
// store only costs a restore.
func openStore(dir string, partition int32, fresh bool, log *slog.Logger, cache *pebble.Cache) (*store, bool, error) {
	wiped := false
	if fresh {
		if err := os.RemoveAll(dir); err != nil {
			return nil, false, fmt.Errorf("wipe store %s: %w", dir, err)
		}
		wiped = true
	}
	db, err := pebble.Open(dir, storeOptions(log, cache))
	if err != nil && !wiped {
		// Corrupt or unreadable: rebuild from the changelog.
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			return nil, false, fmt.Errorf("open store %s: %w (and wiping it failed: %v)", dir, err, rmErr)
		}
		wiped = true
		db, err = pebble.Open(dir, storeOptions(log, cache))
	}
	if err != nil {
		return nil, false, fmt.Errorf("open store %s: %w", dir, err)
	}
	return &store{partition: partition, dir: dir, db: db}, wiped, nil
}

// storeOptions are the Pebble options of a partition store or the global
// tables. cache is the runner's block cache, shared by all its stores (nil:
// a small one per store, for tests).
func storeOptions(log *slog.Logger, cache *pebble.Cache) *pebble.Options {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := &pebble.Options{Logger: pebbleLogger{log}, Cache: cache}
	// Point reads dominate (a user's state on every event, timer keys,
	// table rows), many of them for absent keys: bloom filters let a Get
	// skip the tables that cannot hold the key instead of reading their
	// index and data blocks. Set on L0, the other levels inherit it.
	o.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	// The due-time index is a queue: fired timers leave point tombstones at
	// its head. Pebble's tombstone-density compaction (on by default at
	// 10%) rewrites such blocks; the runner also seeks past the head, see
	// timers.go.
	// No block compression: the values that dominate a store (a journey
	// engine's instances) are compressed by the processor already, and keys
	// are prefix-compressed within a block; snappy on every flush and
	// compaction cost ~5% of the engine's CPU entering 1M instances, and
	// its decode on reads, for little space.
	o.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	// A write stall (too many L0 files or memtables queued for flush: the
	// compactions are behind the writes) blocks the transaction that
	// commits into the store; say so.
	o.EventListener = &pebble.EventListener{
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			log.Info("pebble write stall", "reason", info.Reason)
		},
	}
	o.EnsureDefaults()
	return o
}

func (s *store) close() error {
	if s == nil || s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

func storeDir(root, group string, partition int32) string {
	return filepath.Join(root, group, fmt.Sprintf("%d", partition))
}

// readOffset returns an offset recorded under key, or -1.
func readOffset(r pebble.Reader, key []byte) (int64, error) {
	v, c, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return -1, nil
	}
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("meta %q: %d bytes, want 8", key, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

func encodeOffset(o int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(o)) }

func stateKey(k []byte) []byte { return append([]byte{nsState}, k...) }

func tableKey(topic string, k []byte) []byte {
	b := make([]byte, 0, 2+len(topic)+len(k))
	b = append(b, nsTable)
	b = append(b, topic...)
	b = append(b, 0)
	return append(b, k...)
}

func dueKey(dueMs int64, timerKey []byte) []byte {
	b := make([]byte, 0, 9+len(timerKey))
	b = append(b, nsDue)
	b = binary.BigEndian.AppendUint64(b, uint64(dueMs))
	return append(b, timerKey...)
}

func timerKeyKey(timerKey []byte) []byte { return append([]byte{nsTimerKey}, timerKey...) }

// inChangelog reports whether a store key is replicated by the changelog.
func inChangelog(k []byte) bool {
	return len(k) > 0 && (k[0] == nsState || k[0] == nsDue || k[0] == nsTimerKey || k[0] == nsGlobalDead)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// pebbleLogger sends Pebble's logs to the runner's logger: its routine
// messages (WAL recovery, compactions) at debug level.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("pebble: " + fmt.Sprintf(format, args...))
}

// Fatalf is called on corruption Pebble cannot continue from; it must
// not return.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error("pebble fatal: " + msg)
	panic("pebble: " + msg)
}
