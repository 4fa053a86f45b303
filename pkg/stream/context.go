package stream

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Context is what a processor works with while handling one message: the
// partition's state, its tables, global tables, outputs and timers. Writes
// are visible to later reads of the same message and of later messages in
// the same transaction; they reach the store and the changelog only when the
// transaction commits, and not at all if the processor fails.
//
// A Context is only valid during the Processor call it is passed to.
type Context struct {
	now     time.Time
	w       *partitionWork
	globals *globalTables
	// undo holds what this message's writes replaced, to roll them back if
	// the processor fails.
	undo   []undo
	emits  []*kgo.Record
	timers int64 // change in the number of pending timers
	after  []func()
	msgCtx context.Context // Message.Context of the message
}

type write struct {
	value []byte
	del   bool
}

// Now is the runtime's clock for this transaction: the same for every
// message in it, and the time timers are compared against.
func (c *Context) Now() time.Time { return c.now }

// TraceContext is the context of the message being processed
// (Message.Context): with the Kafka client traced it holds the span of the
// record's receipt, for the processor's log calls.
func (c *Context) TraceContext() context.Context { return c.msgCtx }

// Partition is the partition number being processed.
func (c *Context) Partition() int32 { return c.w.p.id }

// Get returns the state value of key, or ok false.
func (c *Context) Get(key []byte) (value []byte, ok bool, err error) {
	return c.get(stateKey(key))
}

// View is Get without the copy: the value is shared with the runtime, and
// must not be modified. It stays valid (the runtime never modifies a value
// it holds, a later write replaces it), so a decoder may keep slices of
// it.
func (c *Context) View(key []byte) (value []byte, ok bool, err error) {
	return c.view(stateKey(key))
}

// Set stores value under key.
func (c *Context) Set(key, value []byte) {
	c.put(stateKey(key), value)
}

// Delete removes key.
func (c *Context) Delete(key []byte) { c.del(stateKey(key)) }

// Range calls fn for each state key in [start, end) in key order, with the
// values as of this point of the transaction; end nil means no upper bound.
// fn returns false to stop. Keys and values are only valid during fn.
func (c *Context) Range(start, end []byte, fn func(key, value []byte) bool) error {
	lo := stateKey(start)
	hi := prefixEnd([]byte{nsState})
	if end != nil {
		hi = stateKey(end)
	}
	if err := c.w.scan(lo, hi, func(k, v []byte) bool { return fn(k[1:], v) }); err != nil {
		return fmt.Errorf("state range: %w", err)
	}
	return nil
}

// Lookup reads a row of a table by key: a co-partitioned table of this
// group (the row of this partition's store) or a global table.
func (c *Context) Lookup(table string, key []byte) (value []byte, ok bool, err error) {
	if c.w.g.isTable(table) {
		return c.get(tableKey(table, key))
	}
	if c.globals != nil && c.globals.has(table) {
		return c.globals.get(table, key)
	}
	return nil, false, fmt.Errorf("lookup %q: not a table or global table of group %s", table, c.w.g.name)
}

// Emit produces a record to topic, keyed by key, in the transaction.
func (c *Context) Emit(topic string, key, value []byte, headers ...Header) {
	r := &kgo.Record{Topic: topic, Key: bytes.Clone(key), Value: bytes.Clone(value)}
	for _, h := range headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: bytes.Clone(h.Value)})
	}
	c.emits = append(c.emits, r)
}

// Schedule sets the timer key to fire at due with payload, replacing an
// earlier schedule of the same key. Timers are part of the partition's
// state: they survive crashes and move with the partition.
func (c *Context) Schedule(key []byte, due time.Time, payload []byte) error {
	kk := timerKeyKey(key)
	old, ok, err := c.view(kk)
	if err != nil {
		return err
	}
	if ok {
		c.del(dueKey(int64(binary.BigEndian.Uint64(old)), key))
	} else {
		c.timers++
	}
	ms := due.UnixMilli()
	dk := dueKey(ms, key)
	if payload == nil {
		payload = []byte{}
	}
	c.put(dk, payload)
	c.put(kk, encodeOffset(ms))
	c.w.lowerTimerFloor(dk)
	return nil
}

// Cancel removes the timer key; cancelling a timer that is not scheduled
// does nothing.
func (c *Context) Cancel(key []byte) error {
	kk := timerKeyKey(key)
	old, ok, err := c.view(kk)
	if err != nil || !ok {
		return err
	}
	c.del(dueKey(int64(binary.BigEndian.Uint64(old)), key))
	c.del(kk)
	c.timers--
	return nil
}

// DeletePrefix removes every state key that starts with prefix: all of
// one entity's state in one call, as forgetting a user needs.
func (c *Context) DeletePrefix(prefix []byte) error {
	var keys [][]byte
	if err := c.Range(prefix, prefixEnd(prefix), func(k, _ []byte) bool {
		keys = append(keys, bytes.Clone(k))
		return true
	}); err != nil {
		return err
	}
	for _, k := range keys {
		c.Delete(k)
	}
	return nil
}

// CancelPrefix cancels every timer whose key starts with prefix.
func (c *Context) CancelPrefix(prefix []byte) error {
	lo := timerKeyKey(prefix)
	var keys [][]byte
	if err := c.w.scan(lo, prefixEnd(lo), func(k, _ []byte) bool {
		keys = append(keys, bytes.Clone(k[1:]))
		return true
	}); err != nil {
		return fmt.Errorf("timer range: %w", err)
	}
	for _, k := range keys {
		if err := c.Cancel(k); err != nil {
			return err
		}
	}
	return nil
}

// TimerDue returns when the timer key is due, or ok false.
func (c *Context) TimerDue(key []byte) (due time.Time, ok bool, err error) {
	v, ok, err := c.view(timerKeyKey(key))
	if err != nil || !ok {
		return time.Time{}, false, err
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(v))).UTC(), true, nil
}

func (c *Context) get(k []byte) ([]byte, bool, error) {
	v, ok, err := c.view(k)
	if !ok {
		return nil, false, err
	}
	return bytes.Clone(v), true, nil
}

// view is get without the copy (see View).
func (c *Context) view(k []byte) ([]byte, bool, error) {
	v, ok, err := c.w.get(k)
	if err != nil {
		return nil, false, fmt.Errorf("state get: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	return v, true, nil
}

// put and del take k, a key built for the call (stateKey, dueKey, ...)
// and not modified after, as the write's key without copying it.
func (c *Context) put(k, v []byte) {
	c.undo = append(c.undo, c.w.set(ownedString(k), write{value: bytes.Clone(v)}))
}

func (c *Context) del(k []byte) {
	c.undo = append(c.undo, c.w.set(ownedString(k), write{del: true}))
}

// ownedString is b as a string, sharing its memory: b must never be
// modified after.
func ownedString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
