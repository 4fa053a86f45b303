package stream

import "bytes"

// readCache keeps recently read and written committed rows of one
// partition store in memory, absent keys included, so a hot key costs a map
// lookup instead of a Pebble point read (a merging iterator over the
// memtables and levels, 1-3µs). It is the committed state: the runner fills
// it from store reads and from a transaction's writes once the transaction
// has committed and reached the store, and never from uncommitted work. It
// is bounded in bytes; when full it evicts entries at random (Go's map
// iteration order), which needs no bookkeeping on the read path.
//
// A readCache belongs to the loop goroutine; it is not safe for concurrent
// use.
type readCache struct {
	rows  map[string]cachedRow
	bytes int
	max   int
	// deleted counts the rows dropped since rows was last rebuilt: a Go
	// map does not shrink, and under steady churn (new keys in, random
	// ones out) its deleted slots make it grow as if it held every key it
	// ever saw (measured: 5x the memory of the rows it holds; ~54 MiB for
	// six 4 MiB caches entering 1M instances). evict rebuilds it once as
	// many rows have gone as it holds, so its memory stays near its bound.
	deleted int
}

type cachedRow struct {
	value  []byte
	absent bool
}

// cacheRowOverhead approximates the map entry, string and slice headers of
// a cached row.
const cacheRowOverhead = 64

func newReadCache(maxBytes int) *readCache {
	if maxBytes <= 0 {
		return nil
	}
	return &readCache{rows: map[string]cachedRow{}, max: maxBytes}
}

// get returns the cached row of k. The value must not be modified.
func (c *readCache) get(k []byte) (row cachedRow, ok bool) {
	if c == nil {
		return cachedRow{}, false
	}
	row, ok = c.rows[string(k)]
	return row, ok
}

// put caches the committed value of k, or its absence; value is owned by
// the cache from now on.
func (c *readCache) put(k string, value []byte, absent bool) {
	if c == nil {
		return
	}
	size := len(k) + len(value) + cacheRowOverhead
	if size > c.max/16 {
		// A row this large would flush much of the cache for one key.
		c.drop(k)
		return
	}
	if len(k) > 0 && k[0] == nsTable && value != nil {
		// A table row's value is the fetched record's (applyTableRow), a
		// slice of the fetch's decompressed batch: cached as is, one row
		// keeps the whole batch alive (~50 MiB of pinned batches entering
		// 1M instances with their profiles).
		value = bytes.Clone(value)
	}
	if old, ok := c.rows[k]; ok {
		c.bytes -= len(k) + len(old.value) + cacheRowOverhead
	}
	for c.bytes+size > c.max {
		c.evict()
	}
	c.rows[k] = cachedRow{value: value, absent: absent}
	c.bytes += size
}

// drop forgets k.
func (c *readCache) drop(k string) {
	if c == nil {
		return
	}
	if old, ok := c.rows[k]; ok {
		c.bytes -= len(k) + len(old.value) + cacheRowOverhead
		delete(c.rows, k)
		c.deleted++
	}
}

// evict removes about one in eight entries, at random.
func (c *readCache) evict() {
	n := len(c.rows)/8 + 1
	for k := range c.rows {
		c.drop(k)
		n--
		if n == 0 {
			break
		}
	}
	if c.deleted >= len(c.rows) {
		// Copying is amortised over the deletions that made it due.
		rows := make(map[string]cachedRow, len(c.rows))
		for k, r := range c.rows {
			rows[k] = r
		}
		c.rows, c.deleted = rows, 0
	}
}
