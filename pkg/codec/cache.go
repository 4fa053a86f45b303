package codec

import (
	"maps"
	"sync"
	"sync/atomic"
)

// cache is a copy-on-write map: lookups, on every decode, are one atomic load
// and no lock; stores, once per new schema, copy the map.
type cache[K comparable, V any] struct {
	mu sync.Mutex // serializes stores
	m  atomic.Pointer[map[K]V]
}

func (c *cache[K, V]) load(k K) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// store sets k to v unless k is already set, and returns the value k holds.
func (c *cache[K, V]) store(k K, v V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if existing, ok := (*old)[k]; ok {
			return existing
		}
	}
	next := make(map[K]V, 1)
	if old != nil {
		next = maps.Clone(*old)
	}
	next[k] = v
	c.m.Store(&next)
	return v
}
