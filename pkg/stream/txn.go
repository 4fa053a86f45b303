package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// txn is one consume-process-produce transaction.
type txn struct {
	r       *Runner
	now     time.Time
	works   map[int32]*partitionWork
	outputs []*kgo.Record
	msgs    int
	// consumed is set when the transaction carries input records, and so
	// input offsets to commit.
	consumed bool
}

func (t *txn) work(p *partitionState) *partitionWork {
	w, ok := t.works[p.id]
	if !ok {
		w = newWork(t.r.g, p)
		t.works[p.id] = w
	}
	return w
}

// run processes the records and then the due timers.
func (t *txn) run(records []*kgo.Record, ready []*partitionState) error {
	r := t.r
	t.consumed = len(records) > 0
	byID := make(map[int32]*partitionState, len(ready))
	for _, p := range ready {
		byID[p.id] = p
	}
	for _, rec := range records {
		p := byID[rec.Partition]
		if p == nil {
			return fmt.Errorf("%s[%d]@%d: %w", rec.Topic, rec.Partition, rec.Offset, errNotReady)
		}
		w := t.work(p)
		m := Message{Kind: KindRecord, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}
		for _, h := range rec.Headers {
			m.Headers = append(m.Headers, Header{Key: h.Key, Value: h.Value})
		}
		if r.g.isTable(rec.Topic) {
			if err := applyTableRow(w, rec); err != nil {
				return err
			}
			if !r.g.deliver[rec.Topic] {
				r.o.Metrics.Processed(rec.Topic, rec.Partition, KindTableUpdate, 1)
				continue
			}
			m.Kind = KindTableUpdate
		}
		if err := t.process(w, m, nil); err != nil {
			return err
		}
	}
	for _, p := range ready {
		w := t.work(p)
		due, err := w.dueTimers(t.now, r.o.MaxTimersPerPartition)
		if err != nil {
			return err
		}
		if len(due) == r.o.MaxTimersPerPartition {
			r.backlog = true
		}
		for _, d := range due {
			w.raiseTimerFloor(d.dueKey)
			// Firing removes the timer whatever the processor does.
			fired := map[string]write{string(d.dueKey): {del: true}, string(timerKeyKey(d.key)): {del: true}}
			m := Message{Kind: KindTimer, Partition: p.id, Offset: -1, Key: d.key, Value: d.payload, Due: d.due, Timestamp: d.due}
			if err := t.process(w, m, fired); err != nil {
				return err
			}
		}
		if len(due) == 0 && len(w.changes) == 0 && len(w.tableNext) == 0 {
			w.discard()
			delete(t.works, p.id)
		}
	}
	return nil
}

// process calls the processor for one message. base holds writes that stand
// even if the processor fails (a fired timer's removal).
func (t *txn) process(w *partitionWork, m Message, base map[string]write) error {
	r := t.r
	c := &Context{now: t.now, w: w, globals: r.globals, overlay: make(map[string]write, len(base)+4)}
	for k, v := range base {
		c.overlay[k] = v
	}
	baseTimers := int64(0)
	if base != nil {
		baseTimers = -1
		c.timers = -1
	}
	err := call(r.g.process, c, m, r.log)
	t.msgs++
	r.o.Metrics.Processed(m.Topic, m.Partition, m.Kind, 1)
	if err == nil {
		t.outputs = append(t.outputs, c.emits...)
		return w.apply(c.overlay, c.timers)
	}
	if IsRetryable(err) {
		return err
	}
	reason := err.Error()
	r.log.Warn("dead-lettering message", "kind", m.Kind, "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", reason)
	r.o.Metrics.DeadLettered(m.Topic, reason)
	t.outputs = append(t.outputs, deadLetter(r.g.dlq, r.g.name, m, reason, t.now))
	if base != nil {
		return w.apply(base, baseTimers)
	}
	return nil
}

// call runs the processor, turning a panic into an error so one bad
// message cannot crash the process.
func call(p Processor, c *Context, m Message, log *slog.Logger) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("processor panic: %v", v)
			log.Error("processor panic", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	return p(c, m)
}

// applyTableRow materialises a table record into the transaction: an
// upsert, or a delete for a tombstone.
func applyTableRow(w *partitionWork, rec *kgo.Record) error {
	k := tableKey(rec.Topic, rec.Key)
	var err error
	if rec.Value == nil {
		err = w.batch.Delete(k, nil)
	} else {
		err = w.batch.Set(k, rec.Value, nil)
	}
	w.tableNext[rec.Topic] = rec.Offset + 1
	return err
}

// commit produces the changelog and outputs, commits the Kafka transaction,
// and applies the stores' batches only if it committed.
func (t *txn) commit(begun time.Time) error {
	r := t.r
	var mu sync.Mutex
	var produceErr error
	var produced sync.WaitGroup
	produce := func(rec *kgo.Record, w *partitionWork) {
		produced.Add(1)
		r.sess.Produce(context.Background(), rec, func(rec *kgo.Record, err error) {
			defer produced.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				produceErr = errors.Join(produceErr, fmt.Errorf("produce to %s: %w", rec.Topic, err))
				return
			}
			if w != nil && rec.Offset+1 > w.changelogNext {
				w.changelogNext = rec.Offset + 1
			}
		})
	}
	for _, w := range t.works {
		for k, wr := range w.changes {
			rec := &kgo.Record{Topic: r.g.changelog, Partition: w.p.id, Key: []byte(k)}
			if !wr.del {
				rec.Value = wr.value
			}
			produce(rec, w)
		}
	}
	for _, rec := range t.outputs {
		produce(rec, nil)
	}

	endCtx, cancel := context.WithTimeout(context.Background(), r.o.TransactionTimeout+10*time.Second)
	defer cancel()
	if err := r.sess.Client().Flush(endCtx); err != nil {
		t.abort(err)
		return err
	}
	produced.Wait()
	try := kgo.TryCommit
	if produceErr != nil {
		try = kgo.TryAbort
	}
	var committed bool
	var err error
	if t.consumed {
		committed, err = r.sess.End(endCtx, try)
	} else {
		// No input offsets (only timers fired): end on the client. The
		// session's End holds its lock for 500ms after a commit without
		// offsets, which capped timer-only transactions at two a second.
		err = r.sess.Client().EndTransaction(endCtx, try)
		committed = err == nil && try == kgo.TryCommit
		if err != nil {
			// An abortable failure: abort and retry the timers later;
			// only a producer that cannot even abort is fatal.
			if abortErr := r.sess.Client().EndTransaction(endCtx, kgo.TryAbort); abortErr == nil {
				t.discard()
				r.o.Metrics.Aborted(err.Error())
				return fmt.Errorf("end timer transaction: %w", err)
			}
		}
	}
	if err != nil {
		t.discard()
		r.o.Metrics.Aborted(err.Error())
		return &fatalError{fmt.Errorf("end transaction: %w", err)}
	}
	if !committed {
		t.discard()
		reason := "rebalance or fencing during the transaction"
		if produceErr != nil {
			reason = produceErr.Error()
		}
		r.o.Metrics.Aborted(reason)
		return fmt.Errorf("transaction not committed: %s", reason)
	}
	r.o.Metrics.Committed(time.Since(begun), t.msgs)

	r.mu.Lock()
	defer r.mu.Unlock()
	for id, w := range t.works {
		if r.parts[id] != w.p || !w.p.ready.Load() {
			// Revoked meanwhile: its store is closed and the next owner
			// restores from the changelog, which has this transaction.
			continue
		}
		if err := w.commit(); err != nil {
			// The changelog has the transaction; the store is behind its
			// recorded offset and catches up at the next restore.
			r.log.Error("apply committed transaction to store", "partition", id, "err", err)
			w.p.ready.Store(false)
			continue
		}
		r.o.Metrics.TimersPending(id, w.p.timers)
	}
	return nil
}

// abort ends the transaction without committing and drops its work.
func (t *txn) abort(cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), t.r.o.TransactionTimeout+10*time.Second)
	defer cancel()
	if _, err := t.r.sess.End(ctx, kgo.TryAbort); err != nil {
		t.r.log.Error("abort transaction", "err", err)
	}
	t.discard()
	t.r.o.Metrics.Aborted(cause.Error())
}

func (t *txn) discard() {
	for _, w := range t.works {
		w.discard()
	}
	t.works = nil
}
