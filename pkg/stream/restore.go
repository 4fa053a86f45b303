package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// onAssigned runs before fetching starts for new partitions: it pauses them
// and restores each in the background; a partition is fetched and processed
// only once its store is restored.
func (r *Runner) onAssigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	nums := partitionNumbers(assigned)
	r.mu.Lock()
	defer r.mu.Unlock()
	// Joined only with the new partitions in parts (Ready reads joined,
	// then parts under mu): set before, Ready could find the group joined
	// and no partition to wait for, and say ready before any restore.
	defer r.joined.Store(true)
	var fresh []int32
	for _, n := range nums {
		if _, owned := r.parts[n]; !owned {
			fresh = append(fresh, n)
		}
	}
	if len(fresh) == 0 {
		return
	}
	cl.PauseFetchPartitions(r.topicPartitions(fresh))
	for _, n := range fresh {
		ctx, cancel := context.WithCancel(context.Background())
		p := &partitionState{id: n, cancelRestore: cancel, cache: newReadCache(r.o.StateCacheBytes)}
		p.restored.Add(1)
		r.parts[n] = p
		go r.restore(ctx, p, cl)
	}
	r.log.Info("partitions assigned", "partitions", fresh)
}

// onRevoked closes the stores of revoked or lost partitions. It runs
// between transactions (BlockRebalanceOnPoll).
func (r *Runner) onRevoked(_ context.Context, cl *kgo.Client, revoked map[string][]int32) {
	nums := partitionNumbers(revoked)
	r.mu.Lock()
	var gone []*partitionState
	for _, n := range nums {
		if p, ok := r.parts[n]; ok {
			gone = append(gone, p)
			delete(r.parts, n)
		}
	}
	r.mu.Unlock()
	for _, p := range gone {
		r.release(p)
	}
	cl.ResumeFetchPartitions(r.topicPartitions(nums))
	if len(gone) > 0 {
		r.log.Info("partitions revoked", "partitions", nums)
	}
}

// release stops a partition's restore and closes its store.
func (r *Runner) release(p *partitionState) {
	p.ready.Store(false)
	p.cancelRestore()
	p.restored.Wait()
	r.watchReleased(p)
	if err := p.closeStore(); err != nil {
		r.log.Warn("close store", "partition", p.id, "err", err)
	}
}

func (r *Runner) topicPartitions(nums []int32) map[string][]int32 {
	m := map[string][]int32{}
	for _, t := range r.g.consumed() {
		m[t] = append([]int32(nil), nums...)
	}
	return m
}

func partitionNumbers(m map[string][]int32) []int32 {
	seen := map[int32]bool{}
	var out []int32
	for _, ps := range m {
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// restore brings a partition's store up to date, retrying until it
// succeeds or the partition is revoked, then lets cl (the group's client,
// as the assignment callback got it: the runner's session may not be set
// yet) fetch it.
func (r *Runner) restore(ctx context.Context, p *partitionState, cl *kgo.Client) {
	defer p.restored.Done()
	started := time.Now()
	for {
		err := r.restoreOnce(ctx, p)
		if err == nil {
			err = r.watchReady(ctx, p)
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		r.log.Error("restore failed; retrying", "partition", p.id, "err", err)
		p.healthMu.Lock()
		if p.restoreFailing.IsZero() {
			p.restoreFailing = time.Now()
		}
		p.restoreErr = err
		p.healthMu.Unlock()
		sleep(ctx, r.o.RetryBackoff)
	}
	p.healthMu.Lock()
	p.restoreFailing, p.restoreErr = time.Time{}, nil
	p.healthMu.Unlock()
	n, err := countTimers(p.st.db)
	if err != nil {
		r.log.Error("count timers", "partition", p.id, "err", err)
	}
	p.timers, p.timerFloor = n, nil
	r.o.Metrics.TimersPending(p.id, n)
	if rm, ok := r.o.Metrics.(RestoreMetrics); ok {
		rm.Restored(p.id, time.Since(started))
	}
	p.ready.Store(true)
	cl.ResumeFetchPartitions(r.topicPartitions([]int32{p.id}))
	r.log.Info("partition restored", "partition", p.id, "took", time.Since(started).Round(time.Millisecond), "timers", n)
}

// restoreAgain brings back a partition whose store missed a transaction
// Kafka committed (its batch failed): the store's recorded changelog
// offset is before that transaction, so a restore replays it, and the
// partition is not processed meanwhile. The caller holds r.mu.
func (r *Runner) restoreAgain(p *partitionState) {
	p.ready.Store(false)
	cl := r.sess.Client()
	cl.PauseFetchPartitions(r.topicPartitions([]int32{p.id}))
	// The cache may hold rows the failed batch should have replaced.
	p.cache = newReadCache(r.o.StateCacheBytes)
	p.cancelRestore()
	r.watchReleased(p)
	ctx, cancel := context.WithCancel(context.Background())
	p.cancelRestore = cancel
	p.restored.Add(1)
	go r.restore(ctx, p, cl)
}

func (r *Runner) restoreOnce(ctx context.Context, p *partitionState) error {
	if storeFault != nil {
		if err := storeFault("restore", p.id); err != nil {
			return err
		}
	}
	_ = p.closeStore()
	st, wiped, err := openStore(storeDir(r.o.StateDir, r.g.name, p.id), p.id, false, r.log, r.cache)
	if err != nil {
		return err
	}
	p.st = st
	if wiped {
		r.log.Warn("store could not be opened; rebuilding it from the changelog", "partition", p.id)
	}

	// Partition counts before any record of the partition is screened.
	if err := r.loadPartitionCounts(ctx); err != nil {
		return err
	}

	// The changelog first: wait for any transaction of a previous owner to
	// end, then read to the end.
	start, end, err := r.stableBounds(ctx, r.g.changelog, p.id)
	if err != nil {
		return err
	}
	next, err := readOffset(st.db, metaChangelog)
	if err != nil {
		return err
	}
	if next > end || (next >= 0 && next < start) {
		// The changelog was recreated or truncated under us: the store
		// cannot be trusted.
		r.log.Warn("store does not match its changelog; rebuilding", "partition", p.id, "store_next", next, "changelog_start", start, "changelog_end", end)
		_ = p.closeStore()
		if p.st, _, err = openStore(st.dir, p.id, true, r.log, r.cache); err != nil {
			return err
		}
		st, next = p.st, -1
	}
	if next < start {
		next = start
	}
	if err := r.readInto(ctx, st, r.g.changelog, p.id, next, end, metaChangelog, func(b *pebble.Batch, rec *kgo.Record) error {
		if !inChangelog(rec.Key) {
			return fmt.Errorf("changelog key %q outside the state and timer namespaces", rec.Key)
		}
		if rec.Value == nil {
			return b.Delete(rec.Key, nil)
		}
		return b.Set(rec.Key, rec.Value, nil)
	}); err != nil {
		return fmt.Errorf("restore partition %d from %s: %w", p.id, r.g.changelog, err)
	}

	// Tables: from what the store reflects up to the group's committed
	// offset, where processing resumes. A table the processor is not
	// delivered is read on to its stable end: a stream-table join must
	// not see an event before the rows written before it, and the group
	// would otherwise read the two topics at their own pace (a profile
	// table bigger than one fetch arrives over several polls, behind the
	// events). Kafka Streams waits for every input's buffered data
	// instead (max.task.idle.ms); restoring ahead needs no waiting.
	if len(r.g.tables) == 0 {
		return nil
	}
	committed, err := r.committed(ctx)
	if err != nil {
		return err
	}
	p.tableAhead = map[string]int64{}
	for _, topic := range r.g.tables {
		meta := metaTableKey(topic)
		from, err := readOffset(st.db, meta)
		if err != nil {
			return err
		}
		to := int64(0)
		if o, ok := committed.Lookup(topic, p.id); ok && o.Err == nil && o.At >= 0 {
			to = o.At
		}
		if from < 0 {
			from = 0
		}
		ahead := !r.g.deliver[topic]
		if from >= to && !ahead {
			continue
		}
		tstart, tend, err := r.stableBounds(ctx, topic, p.id)
		if err != nil {
			return err
		}
		if ahead {
			to = max(to, tend)
		}
		from = max(from, tstart)
		if err := r.readInto(ctx, st, topic, p.id, from, to, meta, func(b *pebble.Batch, rec *kgo.Record) error {
			if ok, err := r.restorable(rec); !ok {
				// nil for a row dead-lettered when it was processed, or
				// to be when the group reads it (read ahead)
				return err
			}
			k := tableKey(topic, rec.Key)
			if rec.Value == nil {
				return b.Delete(k, nil)
			}
			return b.Set(k, rec.Value, nil)
		}); err != nil {
			return fmt.Errorf("restore table %s partition %d: %w", topic, p.id, err)
		}
		if ahead {
			next, err := readOffset(st.db, meta)
			if err != nil {
				return err
			}
			p.tableAhead[topic] = max(next, 0)
		}
	}
	return nil
}

// committed fetches the group's committed offsets, waiting while another
// member's transaction holds them (KIP-447 stable offsets).
func (r *Runner) committed(ctx context.Context) (kadm.OffsetResponses, error) {
	for {
		resp, err := r.adm.FetchOffsets(kadm.RequireStable(ctx), r.g.name)
		if err == nil {
			err = resp.Error()
		}
		if err == nil {
			return resp, nil
		}
		if !errors.Is(err, kerr.UnstableOffsetCommit) && !errors.Is(err, kerr.CoordinatorLoadInProgress) && !errors.Is(err, kerr.NotCoordinator) {
			return nil, fmt.Errorf("fetch committed offsets of %s: %w", r.g.name, err)
		}
		sleep(ctx, 50*time.Millisecond)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// stableBounds returns the log start and end of a partition once no
// transaction is open on it (last stable offset equals the high
// watermark), so a restore reads everything a previous owner committed.
func (r *Runner) stableBounds(ctx context.Context, topic string, partition int32) (start, end int64, err error) {
	deadline := time.Now().Add(2*r.o.TransactionTimeout + 10*time.Second)
	for {
		starts, err := r.adm.ListStartOffsets(ctx, topic)
		if err != nil {
			return 0, 0, fmt.Errorf("start offsets of %s: %w", topic, err)
		}
		ends, err := r.adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return 0, 0, fmt.Errorf("end offsets of %s: %w", topic, err)
		}
		stable, err := r.adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return 0, 0, fmt.Errorf("stable offsets of %s: %w", topic, err)
		}
		s, ok1 := starts.Lookup(topic, partition)
		e, ok2 := ends.Lookup(topic, partition)
		l, ok3 := stable.Lookup(topic, partition)
		if !ok1 || !ok2 || !ok3 || s.Err != nil || e.Err != nil || l.Err != nil {
			return 0, 0, fmt.Errorf("offsets of %s[%d]: %v", topic, partition, errors.Join(s.Err, e.Err, l.Err))
		}
		if l.Offset >= e.Offset || time.Now().After(deadline) {
			if l.Offset < e.Offset {
				r.log.Warn("an open transaction outlived the transaction timeout; restoring to the last stable offset", "topic", topic, "partition", partition, "stable", l.Offset, "end", e.Offset)
			}
			return s.Offset, l.Offset, nil
		}
		sleep(ctx, 100*time.Millisecond)
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
	}
}

// readInto applies the committed records of topic[partition] in
// [from, to) to the store, recording progress under meta in each batch.
func (r *Runner) readInto(ctx context.Context, st *store, topic string, partition int32, from, to int64, meta []byte, apply func(*pebble.Batch, *kgo.Record) error) error {
	if from >= to {
		return nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), r.o.Kafka...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records mark the end of each transaction; seeing them
		// tells us when the last committed offset is reached.
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(64<<20),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	total := to - from
	next := from
	for next < to {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fs.Err0(); err != nil {
			return err
		}
		b := st.db.NewBatch()
		for _, rec := range fs.Records() {
			if rec.Offset >= to {
				// Compaction removed the records up to the target.
				next = to
				break
			}
			if !rec.Attrs.IsControl() {
				if err := apply(b, rec); err != nil {
					b.Close()
					return err
				}
			}
			next = rec.Offset + 1
		}
		if err := b.Set(meta, encodeOffset(next), nil); err != nil {
			b.Close()
			return err
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			b.Close()
			return err
		}
		b.Close()
		r.o.Metrics.RestoreProgress(topic, partition, next-from, total)
	}
	return nil
}
