package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// txn is one consume-process-produce transaction. Its partitions are
// processed in parallel, each by one goroutine: a partition's messages
// keep their order, and the processor is never called concurrently for the
// same partition.
type txn struct {
	r     *Runner
	now   time.Time
	works map[int32]*partitionWork
	// consumed is set when the transaction carries input records, and so
	// input offsets to commit.
	consumed bool

	mu         sync.Mutex // guards produceErr, the confinement fields and every work's changelogNext
	produceErr error
	// failed holds the partitions that failed transiently, rejected the
	// messages whose outputs the broker refused, usedRejections the
	// rejections acted on; touched the partitions that processed
	// something (confine.go).
	failed         map[int32]error
	rejected       map[string]rejection
	usedRejections []string
	touched        []*partitionState
	produced       sync.WaitGroup
	msgs           atomic.Int64
	// backlog is set when a partition fired as many timers as it may.
	backlog atomic.Bool
	// timing is where the transaction spent its time, for TxnTimingMetrics.
	timing TxnTiming
	// ended holds what each partition handled, for report.
	ended []*outcomes
}

// run processes the records and the due timers of every ready partition,
// producing outputs and changelog records as it goes.
func (t *txn) run(records []*kgo.Record, ready []*partitionState) error {
	t.consumed = len(records) > 0
	byPartition := make(map[int32][]*kgo.Record, len(ready))
	for _, rec := range records {
		byPartition[rec.Partition] = append(byPartition[rec.Partition], rec)
	}
	t.works = make(map[int32]*partitionWork, len(ready))
	_, noMetrics := t.r.o.Metrics.(NopMetrics)
	for _, p := range ready {
		w := newWork(t.r.g, p)
		w.out.off = noMetrics
		t.works[p.id] = w
	}
	var notReady []error
	for id, recs := range byPartition {
		if t.works[id] == nil {
			rec := recs[0]
			err := fmt.Errorf("%s[%d]@%d: %w", rec.Topic, rec.Partition, rec.Offset, errNotReady)
			t.fail(id, err)
			notReady = append(notReady, err)
		}
	}
	if len(notReady) > 0 {
		return errors.Join(notReady...)
	}
	for id, recs := range byPartition {
		byPartition[id] = byTimestamp(recs, t.r.g.isTable)
	}
	errs := make([]error, len(ready))
	var wg sync.WaitGroup
	for i, p := range ready {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = t.runPartition(t.works[p.id], byPartition[p.id])
		}()
	}
	wg.Wait()
	for _, w := range t.works {
		if len(w.out.tally) > 0 || len(w.out.after) > 0 {
			t.ended = append(t.ended, &w.out)
		}
	}
	for i, p := range ready {
		if errs[i] != nil {
			errs[i] = fmt.Errorf("partition %d: %w", p.id, errs[i])
			t.fail(p.id, errs[i])
		}
		if len(byPartition[p.id]) > 0 || t.works[p.id].fired {
			t.touched = append(t.touched, p)
		}
	}
	for id, w := range t.works {
		if len(w.writes) == 0 && len(w.tableNext) == 0 && !w.fired {
			delete(t.works, id)
		}
	}
	return errors.Join(errs...)
}

// byTimestamp orders one partition's records of several topics by record
// timestamp, keeping each topic's offset order: a profile written before
// an event is applied before it even when a fetch returned the event
// first. On equal timestamps table rows go first. This aligns the inputs
// within what one poll returned, not across polls (Kafka Streams waits
// for every input to have data; here a late table row is applied when it
// arrives).
func byTimestamp(recs []*kgo.Record, isTable func(string) bool) []*kgo.Record {
	var topics []string
	per := map[string][]*kgo.Record{}
	for _, r := range recs {
		if _, ok := per[r.Topic]; !ok {
			topics = append(topics, r.Topic)
		}
		per[r.Topic] = append(per[r.Topic], r)
	}
	if len(topics) < 2 {
		return recs
	}
	out := make([]*kgo.Record, 0, len(recs))
	for len(out) < len(recs) {
		var best string
		for _, tp := range topics {
			q := per[tp]
			if len(q) == 0 {
				continue
			}
			if best == "" {
				best = tp
				continue
			}
			b := per[best][0]
			if q[0].Timestamp.Before(b.Timestamp) || (q[0].Timestamp.Equal(b.Timestamp) && isTable(tp) && !isTable(best)) {
				best = tp
			}
		}
		out = append(out, per[best][0])
		per[best] = per[best][1:]
	}
	return out
}

// runPartition processes one partition's records, then its due timers,
// then produces the changelog records of what the transaction wrote.
func (t *txn) runPartition(w *partitionWork, records []*kgo.Record) error {
	r := t.r
	for _, rec := range records {
		m := Message{Kind: KindRecord, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp, ctx: rec.Context}
		if len(rec.Headers) > 0 {
			m.Headers = make([]Header, len(rec.Headers))
			for i, h := range rec.Headers {
				m.Headers[i] = Header{Key: h.Key, Value: h.Value}
			}
		}
		if skip, err := t.screen(w, m); err != nil {
			return err
		} else if skip {
			continue
		}
		if r.g.isTable(rec.Topic) {
			if rec.Offset < w.p.tableAhead[rec.Topic] {
				// Restore applied it ahead of the group's position.
				w.out.count(&m, KindTableUpdate, false)
				continue
			}
			applyTableRow(w, rec)
			if !r.g.deliver[rec.Topic] {
				w.out.count(&m, KindTableUpdate, false)
				continue
			}
			m.Kind = KindTableUpdate
		}
		if err := t.process(w, m); err != nil {
			return err
		}
	}
	if err := t.deadLetterGlobals(w); err != nil {
		return err
	}
	due, err := w.dueTimers(t.now, r.o.MaxTimersPerPartition)
	if err != nil {
		return err
	}
	if len(due) == r.o.MaxTimersPerPartition {
		t.backlog.Store(true)
	}
	for _, d := range due {
		w.fired = true
		w.raiseTimerFloor(d.dueKey)
		// Firing removes the timer whatever the processor does.
		w.set(string(d.dueKey), write{del: true})
		w.set(string(timerKeyKey(d.key)), write{del: true})
		w.timers--
		m := Message{Kind: KindTimer, Partition: w.p.id, Offset: -1, Key: d.key, Value: d.payload, Due: d.due, Timestamp: d.due}
		if err := t.process(w, m); err != nil {
			return err
		}
	}
	for k, wr := range w.writes {
		if !inChangelog([]byte(k)) {
			continue
		}
		rec := &kgo.Record{Topic: r.g.changelog, Partition: w.p.id, Key: []byte(k)}
		if !wr.del {
			rec.Value = wr.value
		}
		t.produce(rec, w, nil)
	}
	return nil
}

// produce sends a record in the transaction for partition work w: an
// output or dead letter of message src, or (src nil) a changelog record.
// A failure is the partition's; one the broker will repeat for this record
// is remembered against src (confine.go).
func (t *txn) produce(rec *kgo.Record, w *partitionWork, src *Message) {
	t.produced.Add(1)
	t.r.sess.Produce(context.Background(), rec, func(rec *kgo.Record, err error) {
		defer t.produced.Done()
		if err != nil {
			err = fmt.Errorf("produce to %s: %w", rec.Topic, err)
			t.fail(w.p.id, err)
			if src != nil && refusesRecord(err) {
				t.refused(src, rec.Topic == t.r.g.dlq, err)
			}
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		if err != nil {
			t.produceErr = errors.Join(t.produceErr, err)
			return
		}
		if src == nil && rec.Offset+1 > w.changelogNext {
			w.changelogNext = rec.Offset + 1
		}
	})
}

// process calls the processor for one message and produces its outputs;
// if the processor fails, its writes are rolled back.
func (t *txn) process(w *partitionWork, m Message) error {
	r := t.r
	if len(r.rejected) > 0 { // rarely: the key costs a Sprintf per message
		if rej, ok := r.rejected[rejectionKey(&m)]; ok {
			// The broker refused what this message made last time:
			// dead-letter it without calling the processor again.
			return t.deadLetterRefused(w, m, rej)
		}
	}
	// One Context per partition and transaction, reset for each message:
	// a Context is valid only during the processor's call, and reusing it
	// keeps its undo, emit and AfterCommit slices' memory.
	c := &w.ctx
	*c = Context{now: t.now, w: w, globals: r.globals, undo: c.undo[:0], emits: c.emits[:0], after: c.after[:0], msgCtx: m.Context()}
	err := call(r.g.process, c, &m, r.log)
	if err == nil {
		err = t.checkOutputs(c)
	}
	t.msgs.Add(1)
	if err == nil {
		w.out.count(&m, m.Kind, false)
		for _, rec := range c.emits {
			t.produce(rec, w, &m)
		}
		w.timers += c.timers
		w.out.after = append(w.out.after, c.after...)
		return nil
	}
	w.rollback(c.undo)
	if IsRetryable(err) {
		w.out.count(&m, m.Kind, false) // reported as retried: the transaction aborts
		return err
	}
	reason := err.Error()
	r.log.WarnContext(m.Context(), "dead-lettering message", "kind", m.Kind, "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", reason)
	w.out.deadLettered(&m, reason)
	t.produce(deadLetter(r.g.dlq, r.g.name, m, reason, t.now, r.o.ProducerBatchMaxBytes), w, &m)
	return nil
}

// deadLetterRefused dead-letters a message whose output the broker
// refused on an earlier attempt; if what it refused was the dead letter
// itself, the new one is cut to 16 KiB (the source
// topic, partition and offset locate the original).
func (t *txn) deadLetterRefused(w *partitionWork, m Message, rej rejection) error {
	r := t.r
	t.usedRejection(rejectionKey(&m))
	limit := r.o.ProducerBatchMaxBytes
	if rej.deadLetter {
		limit = minDeadLetterBytes
	}
	t.msgs.Add(1)
	r.log.WarnContext(m.Context(), "dead-lettering message", "kind", m.Kind, "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", rej.reason)
	w.out.deadLettered(&m, rej.reason)
	t.produce(deadLetter(r.g.dlq, r.g.name, m, rej.reason, t.now, limit), w, &m)
	return nil
}

// checkOutputs finds, before anything is produced, what the producer or
// the broker would refuse of a message's outputs: an Emit to a topic the
// group does not declare, or a record over the producer's limit (an output,
// or a state write that becomes a changelog record). Refused at produce
// time it would fail the whole transaction, every partition's, on every
// retry; refused here it is a permanent error of this one message.
func (t *txn) checkOutputs(c *Context) error {
	limit := t.r.o.ProducerBatchMaxBytes
	for _, rec := range c.emits {
		if !t.r.g.mayEmit(rec.Topic) {
			return &UndeclaredOutputError{Topic: rec.Topic}
		}
		if n := recordBytes(rec); n > limit {
			return &TooLargeError{What: fmt.Sprintf("output to %q", rec.Topic), Bytes: n, Limit: limit}
		}
	}
	for _, u := range c.undo {
		wr, ok := c.w.writes[u.key]
		if !ok || !inChangelog([]byte(u.key)) {
			continue
		}
		if n := len(u.key) + len(wr.value) + recordFraming; n > limit {
			return &TooLargeError{What: fmt.Sprintf("state write of key %q", truncateText(u.key, 64)), Bytes: n, Limit: limit}
		}
	}
	return nil
}

// call runs the processor, turning a panic into an error so one bad
// message cannot crash the process.
func call(p Processor, c *Context, m *Message, log *slog.Logger) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("processor panic: %v", v)
			log.ErrorContext(m.Context(), "processor panic", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	return p(c, *m)
}

// applyTableRow materialises a table record into the transaction: an
// upsert, or a delete for a tombstone.
func applyTableRow(w *partitionWork, rec *kgo.Record) {
	w.set(string(tableKey(rec.Topic, rec.Key)), write{value: rec.Value, del: rec.Value == nil})
	w.tableNext[rec.Topic] = rec.Offset + 1
}

// commit produces the changelog and outputs, commits the Kafka transaction,
// and applies the stores' batches only if it committed.
func (t *txn) commit(begun time.Time) error {
	r := t.r
	endCtx, cancel := context.WithTimeout(context.Background(), r.o.TransactionTimeout+10*time.Second)
	defer cancel()
	flushing := time.Now()
	if err := r.sess.Client().Flush(endCtx); err != nil {
		t.abort(err)
		return err
	}
	t.produced.Wait()
	t.timing.Flush = time.Since(flushing)
	produceErr := t.produceErr
	try := kgo.TryCommit
	if produceErr != nil {
		try = kgo.TryAbort
	}
	// Fired timers (and any other write made without input) are fenced
	// by their partitions' ownership (fence.go).
	recommit, err := r.recommitOffsets(endCtx, t.fencedPartitions())
	if err != nil {
		t.abort(err)
		return err
	}
	if !t.consumed && len(recommit) == 0 {
		// Nothing consumed and nothing written, so nothing produced: end
		// the empty transaction on the client (the session's End holds
		// its lock 500 ms after a commit without offsets).
		if err := r.sess.Client().EndTransaction(endCtx, kgo.TryAbort); err != nil {
			return &fatalError{fmt.Errorf("end empty transaction: %w", err)}
		}
		t.discard()
		return nil
	}
	ending := time.Now()
	committed, err := r.sess.End(withRecommit(endCtx, recommit), try)
	t.timing.End = time.Since(ending)
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
	r.o.Metrics.Committed(time.Since(begun), int(t.msgs.Load()))
	// Before the stores take the transaction: a store write that fails
	// restores the partition, and its Watchers' Ready must see the
	// AfterCommit functions' effects already.
	t.report(true)

	// The stores take the transaction while the loop polls for the next
	// one: the lock, taken here and released when they have it, keeps the
	// next transaction (and a rebalance's callbacks) from the stores
	// until then.
	applying := time.Now()
	r.mu.Lock()
	go func() {
		defer r.mu.Unlock()
		t.apply()
		t.timing.Apply = time.Since(applying)
		t.timing.Messages = int(t.msgs.Load())
		r.reportTiming(t.timing)
	}()
	return nil
}

// apply writes a committed transaction into its partitions' stores, each
// partition's in parallel. The caller holds r.mu.
func (t *txn) apply() {
	r := t.r
	type applied struct {
		w   *partitionWork
		err error
	}
	out := make([]applied, 0, len(t.works))
	for id, w := range t.works {
		if r.parts[id] != w.p || !w.p.ready.Load() {
			// Revoked meanwhile: its store is closed and the next owner
			// restores from the changelog, which has this transaction.
			continue
		}
		out = append(out, applied{w: w})
	}
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].err = out[i].w.commit()
		}()
	}
	wg.Wait()
	for _, a := range out {
		id := a.w.p.id
		if a.err != nil {
			// The changelog has the transaction; the store is behind its
			// recorded offset and catches up by restoring again.
			r.log.Error("apply committed transaction to store; restoring the partition from its changelog", "partition", id, "err", a.err)
			r.restoreAgain(a.w.p)
			continue
		}
		r.o.Metrics.TimersPending(id, a.w.p.timers)
	}
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

func (t *txn) discard() { t.works = nil }
