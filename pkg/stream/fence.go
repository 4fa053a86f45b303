package stream

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The group-generation fence of a transaction that fires timers.
//
// A transaction commits its input offsets with TxnOffsetCommit, which
// carries this member's group generation, member ID and instance ID: the
// group coordinator refuses it once the member was evicted (a paused
// process whose session timed out, a network partition), and the
// transaction then aborts. A transaction that only fired timers has no
// input offsets, so nothing would fence it: a member paused past its
// session timeout could wake and commit the outputs of timers that the
// partitions' new owner fires too. So a transaction that fires a
// partition's timers (or writes it otherwise without input) also commits,
// again, that partition's committed
// input offsets: the position does not move, but the commit is checked
// against the group like any other, by Kafka and kfake alike. It also
// keeps the transaction on franz-go's KIP-447 path, where the session does
// not hold its lock 500 ms after a commit without offsets.

// fencedPartitions returns, in order, the partitions the transaction
// wrote without consuming their input: those whose timers fired, and
// partition 0 when it dead-lettered rejected global-table rows (a
// transaction runs for them even without input). Their outputs must be
// fenced by their ownership like those of consumed records.
func (t *txn) fencedPartitions() []int32 {
	var out []int32
	for id, w := range t.works {
		if w.fired || len(w.writes) > 0 {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// recommitOffsets returns the offsets to commit again for the partitions
// fired: for each, every input topic's committed offset as the client
// knows it. For a partition the client knows none of (its offset fetch
// after an assignment has not answered yet, or the group never committed
// one) the group's committed offsets are fetched; an input that has none
// is committed at 0, which a consumer that starts at the earliest offset
// (as the runner's does) reads exactly as no commit at all.
func (r *Runner) recommitOffsets(ctx context.Context, fired []int32) (map[string]map[int32]kgo.EpochOffset, error) {
	if len(fired) == 0 {
		return nil, nil
	}
	known := r.sess.Client().CommittedOffsets()
	topics := r.g.consumed()
	out := map[string]map[int32]kgo.EpochOffset{}
	add := func(topic string, p int32, eo kgo.EpochOffset) {
		if out[topic] == nil {
			out[topic] = map[int32]kgo.EpochOffset{}
		}
		out[topic][p] = eo
	}
	var unknown []int32
	for _, p := range fired {
		found := false
		for _, topic := range topics {
			if eo, ok := known[topic][p]; ok && eo.Offset >= 0 {
				add(topic, p, eo)
				found = true
			}
		}
		if !found {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) == 0 {
		return out, nil
	}
	group, err := r.committed(ctx)
	if err != nil {
		return nil, fmt.Errorf("offsets to fence timer partitions %v: %w", unknown, err)
	}
	for _, p := range unknown {
		found := false
		for _, topic := range topics {
			if o, ok := group.Lookup(topic, p); ok && o.Err == nil && o.At >= 0 {
				add(topic, p, kgo.EpochOffset{Epoch: o.LeaderEpoch, Offset: o.At})
				found = true
			}
		}
		if !found {
			add(topics[0], p, kgo.EpochOffset{Epoch: -1, Offset: 0})
		}
	}
	return out, nil
}

// withRecommit returns ctx carrying offsets to add to the transaction's
// offset commit, next to the consumed offsets the session commits (which
// take precedence: they are newer).
func withRecommit(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) context.Context {
	if len(offsets) == 0 {
		return ctx
	}
	return kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
		for _, topic := range slices.Sorted(maps.Keys(offsets)) {
			i := slices.IndexFunc(req.Topics, func(t kmsg.TxnOffsetCommitRequestTopic) bool { return t.Topic == topic })
			if i < 0 {
				rt := kmsg.NewTxnOffsetCommitRequestTopic()
				rt.Topic = topic
				req.Topics = append(req.Topics, rt)
				i = len(req.Topics) - 1
			}
			rt := &req.Topics[i]
			for _, p := range slices.Sorted(maps.Keys(offsets[topic])) {
				if slices.ContainsFunc(rt.Partitions, func(rp kmsg.TxnOffsetCommitRequestTopicPartition) bool { return rp.Partition == p }) {
					continue
				}
				eo := offsets[topic][p]
				rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
				rp.Partition = p
				rp.Offset = eo.Offset
				rp.LeaderEpoch = eo.Epoch
				rp.Metadata = &req.MemberID // what franz-go writes for its own commits
				rt.Partitions = append(rt.Partitions, rp)
			}
		}
		return nil
	})
}
