package stream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Validator checks a row of a table or global table before it is
// materialised. m is the row as a KindTableUpdate message (Value nil for a
// tombstone). An error marked Retryable is retried; any other rejects the
// row: it is dead-lettered with the error as its reason, and the table
// keeps the key's previous value.
type Validator func(m Message) error

// Validate sets the validator of a Table or GlobalTable topic. Table rows
// are otherwise materialised without the processor seeing them, so this
// is where a group refuses a row it could not read later.
//
// A co-partitioned table's rejected row is dead-lettered in the
// transaction that reads it. Every instance reads every row of a global
// table, so a rejected global row is dead-lettered exactly once, by the
// instance that owns partition 0 of the group's inputs, in that
// partition's transaction; each instance keeps the rows it rejected in
// its global store until then (and after: they are few, and a new owner
// of partition 0 may need them).
func Validate(topic string, v Validator) Edge {
	return func(g *Group) {
		if g.validators == nil {
			g.validators = map[string]Validator{}
		}
		g.validators[topic] = v
	}
}

// validate runs a validator, turning a panic into an error.
func validate(v Validator, m Message) (err error) {
	if v == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("validator panic: %v", p)
		}
	}()
	return v(m)
}

// screen decides whether an input or table record reaches the processor
// or the table: one on the wrong partition or without a key (with
// CheckPartitioning), or a table row its validator rejects, is
// dead-lettered, and skip is true. A table's offset still moves past a
// rejected row.
func (t *txn) screen(w *partitionWork, m Message) (skip bool, err error) {
	reason, err := t.r.misplaced(m)
	if err != nil {
		return false, err
	}
	table := t.r.g.isTable(m.Topic)
	if reason == "" && table {
		if err := validate(t.r.g.validators[m.Topic], tableUpdate(m)); err != nil {
			if IsRetryable(err) {
				return false, err
			}
			reason = fmt.Sprintf("invalid %s row: %v", m.Topic, err)
		}
	}
	if reason == "" {
		return false, nil
	}
	if table {
		w.tableNext[m.Topic] = m.Offset + 1
	}
	t.reject(w, m, reason)
	return true, nil
}

func tableUpdate(m Message) Message {
	m.Kind = KindTableUpdate
	return m
}

// reject dead-letters a message the processor never saw, in partition
// work w's transaction.
func (t *txn) reject(w *partitionWork, m Message, reason string) {
	r := t.r
	r.log.WarnContext(m.Context(), "dead-lettering message", "kind", m.Kind, "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", reason)
	w.out.deadLettered(&m, reason)
	t.produce(deadLetter(r.g.dlq, r.g.name, m, reason, t.now, r.o.ProducerBatchMaxBytes), w, &m)
}

// restorable reports whether a table row read while restoring a partition
// may be materialised: the rows screen rejected were dead-lettered when
// they were processed, and must not reappear through a restore.
func (r *Runner) restorable(rec *kgo.Record) (bool, error) {
	m := Message{Kind: KindTableUpdate, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}
	reason, err := r.misplaced(m)
	if err != nil || reason != "" {
		return false, err
	}
	if err := validate(r.g.validators[rec.Topic], m); err != nil {
		if IsRetryable(err) {
			return false, err
		}
		return false, nil
	}
	return true, nil
}

// Rejected global-table rows. Each instance's global store indexes the rows
// it rejected under nsGlobalDead<topic>\x00<partition BE32><offset BE64>;
// partition 0's store (and changelog) holds, under
// nsGlobalDead<topic>\x00<partition BE32>, the offset after the last
// rejected row of that global partition that was dead-lettered.
const nsGlobalDead byte = 'x'

func globalDeadPrefix(topic string, partition int32) []byte {
	b := make([]byte, 0, 6+len(topic))
	b = append(b, nsGlobalDead)
	b = append(b, topic...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint32(b, uint32(partition))
}

// validateGlobal checks a global-table row; a rejected row is indexed in
// batch b with its reason, and ok is false. Retryable failures are retried
// after the runner's backoff, without end: a global row cannot be skipped.
func (g *globalTables) validateGlobal(ctx context.Context, b *pebble.Batch, rec *kgo.Record) (ok bool, err error) {
	v := g.r.g.validators[rec.Topic]
	if v == nil {
		return true, nil
	}
	m := Message{Kind: KindTableUpdate, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}
	for _, h := range rec.Headers {
		m.Headers = append(m.Headers, Header{Key: h.Key, Value: h.Value})
	}
	for {
		err = validate(v, m)
		if err == nil {
			return true, nil
		}
		if !IsRetryable(err) {
			break
		}
		g.r.log.Warn("global table row validation failed; retrying", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
		sleep(ctx, g.r.o.RetryBackoff)
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
	}
	reason := fmt.Sprintf("invalid %s row: %v", rec.Topic, err)
	k := binary.BigEndian.AppendUint64(globalDeadPrefix(rec.Topic, rec.Partition), uint64(rec.Offset))
	if err := b.Set(k, encodeRejected(m, reason), nil); err != nil {
		return false, err
	}
	g.rejected.Add(1)
	return false, nil
}

// deadLetterGlobals dead-letters, in partition 0's transaction, the
// rejected global rows not dead-lettered yet, and records how far it got
// in partition 0's state.
func (t *txn) deadLetterGlobals(w *partitionWork) error {
	g := t.r.globals
	if w.p.id != 0 || g == nil || g.rejected.Load() == 0 {
		return nil
	}
	return g.eachPending(w.get, func(cursor []byte, offset int64, m Message, reason string) {
		t.reject(w, m, reason)
		w.set(string(cursor), write{value: encodeOffset(offset + 1)})
	})
}

// globalDeadLettersDue reports whether partition 0 is among ready and has
// rejected global rows to dead-letter, so the runner runs a transaction
// for them even when no input arrives.
func (r *Runner) globalDeadLettersDue(ready []*partitionState) bool {
	g := r.globals
	if g == nil || g.rejected.Load() == 0 {
		return false
	}
	for _, p := range ready {
		if p.id == 0 {
			due := false
			err := g.eachPending(newWork(r.g, p).get, func([]byte, int64, Message, string) { due = true })
			if err != nil {
				r.log.Warn("look for rejected global rows", "err", err)
			}
			return due
		}
	}
	return false
}

// eachPending calls fn for every indexed rejected global row at or after
// the cursor its partition has in get's store.
func (g *globalTables) eachPending(get func([]byte) ([]byte, bool, error), fn func(cursor []byte, offset int64, m Message, reason string)) error {
	it, err := g.db.NewIter(&pebble.IterOptions{LowerBound: []byte{nsGlobalDead}, UpperBound: []byte{nsGlobalDead + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; {
		k := it.Key()
		if len(k) < 14 {
			return fmt.Errorf("rejected global row key %q: too short", k)
		}
		cursor := append([]byte(nil), k[:len(k)-8]...)
		offset := int64(binary.BigEndian.Uint64(k[len(k)-8:]))
		var next int64
		if v, ok, err := get(cursor); err != nil {
			return err
		} else if ok {
			next = int64(binary.BigEndian.Uint64(v))
		}
		if offset < next {
			valid = it.SeekGE(binary.BigEndian.AppendUint64(cursor, uint64(next)))
			continue
		}
		m, reason, err := decodeRejected(it.Value())
		if err != nil {
			return fmt.Errorf("rejected global row %q: %w", k, err)
		}
		fn(cursor, offset, m, reason)
		valid = it.Next()
	}
	return nil
}

// encodeRejected stores a rejected row: its location, key, value (nil for
// a tombstone), headers, timestamp and reason, as length-prefixed fields.
func encodeRejected(m Message, reason string) []byte {
	b := binary.AppendUvarint(nil, uint64(len(m.Topic)))
	b = append(b, m.Topic...)
	b = binary.BigEndian.AppendUint32(b, uint32(m.Partition))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Offset))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Timestamp.UnixMilli()))
	appendBytes := func(p []byte) {
		if p == nil {
			b = append(b, 0)
			return
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	appendBytes(m.Key)
	appendBytes(m.Value)
	appendBytes([]byte(reason))
	b = binary.AppendUvarint(b, uint64(len(m.Headers)))
	for _, h := range m.Headers {
		appendBytes([]byte(h.Key))
		appendBytes(h.Value)
	}
	return b
}

var errRejectedCorrupt = errors.New("corrupt encoding")

func decodeRejected(b []byte) (m Message, reason string, err error) {
	uvarint := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			err = errRejectedCorrupt
			return 0
		}
		b = b[n:]
		return v
	}
	take := func(n uint64) []byte {
		if err != nil || uint64(len(b)) < n {
			err = errRejectedCorrupt
			return nil
		}
		p := b[:n:n]
		b = b[n:]
		return p
	}
	bytesField := func() []byte {
		flag := take(1)
		if err != nil || flag[0] == 0 {
			return nil
		}
		return append([]byte{}, take(uvarint())...)
	}
	m.Kind = KindTableUpdate
	m.Topic = string(take(uvarint()))
	if p := take(4); err == nil {
		m.Partition = int32(binary.BigEndian.Uint32(p))
	}
	if p := take(8); err == nil {
		m.Offset = int64(binary.BigEndian.Uint64(p))
	}
	if p := take(8); err == nil {
		m.Timestamp = time.UnixMilli(int64(binary.BigEndian.Uint64(p))).UTC()
	}
	m.Key = bytesField()
	m.Value = bytesField()
	reason = string(bytesField())
	for n := uvarint(); err == nil && n > 0; n-- {
		m.Headers = append(m.Headers, Header{Key: string(bytesField()), Value: bytesField()})
	}
	return m, reason, err
}

// countRejected notes, when the global store is opened, whether it indexes
// rejected rows that partition 0 may still have to dead-letter.
func (g *globalTables) countRejected() error {
	it, err := g.db.NewIter(&pebble.IterOptions{LowerBound: []byte{nsGlobalDead}, UpperBound: []byte{nsGlobalDead + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		g.rejected.Add(1)
	}
	return it.Error()
}
