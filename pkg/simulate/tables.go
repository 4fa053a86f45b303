package simulate

import (
	"time"
)

// table is a compacted topic as it stood at every moment of the window:
// each key's versions in offset order, stamped with their record
// timestamps. A version stamped before the window replaces every version
// before it, as compaction would have by then.
type table struct {
	from time.Time
	rows map[string][]version
}

// version is one record of a key; value nil is a tombstone. decoded
// caches what the table's reader made of value (a profile with its time
// zone, a fact's value, a lookup row): a partition's tables are read by
// one goroutine, and the global lookup tables are decoded before any
// partition runs.
type version struct {
	at      time.Time
	value   []byte
	decoded any
}

func newTable(from time.Time) *table {
	return &table{from: from, rows: map[string][]version{}}
}

// put adds a record of key stamped at.
func (t *table) put(key string, at time.Time, value []byte) {
	if at.Before(t.from) {
		t.rows[key] = append(t.rows[key][:0], version{at: at, value: value})
		return
	}
	t.rows[key] = append(t.rows[key], version{at: at, value: value})
}

// get returns key's version as of now: the last one stamped at or before
// now; nil when there is none or it is a tombstone.
func (t *table) get(key string, now time.Time) *version {
	vs := t.rows[key]
	for i := len(vs) - 1; i >= 0; i-- {
		if !vs[i].at.After(now) {
			if vs[i].value == nil {
				return nil
			}
			return &vs[i]
		}
	}
	return nil
}
