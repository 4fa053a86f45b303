package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The runtime's changelog format (pkg/stream store.go): state is
// 's'+key -> value; a timer is 'd'+due(8 bytes BE unix ms)+timer key ->
// payload and 'k'+timer key -> due(8 bytes BE unix ms). Changelog
// partition p restores the store of partition p.
const (
	nsState    = 's'
	nsDue      = 'd'
	nsTimerKey = 'k'
)

// keyPartition is the partition Kafka's default partitioner (murmur2)
// gives key, which is where the runtime keeps the key's state.
func keyPartition(key []byte, partitions int) int32 {
	return int32(kgo.StickyKeyPartitioner(nil).ForTopic("").Partition(&kgo.Record{Key: key}, partitions))
}

// TimerKey is the key of timer i.
func TimerKey(i int) []byte { return fmt.Appendf(nil, "timer-%07d", i) }

// FillState produces the changelog of a counter that has seen count events
// of each of users users, each in the partition its user hashes to. cl must
// use kgo.ManualPartitioner.
func FillState(ctx context.Context, cl *kgo.Client, changelog string, partitions, users int, count uint64) error {
	val := binary.BigEndian.AppendUint64(nil, count)
	return produceAll(ctx, cl, changelog, users, func(i int, emit func(*kgo.Record)) {
		k := UserKey(i)
		emit(&kgo.Record{Topic: changelog, Partition: keyPartition(k, partitions), Key: append([]byte{nsState}, k...), Value: val})
	})
}

// FillTimers produces the changelog of n scheduled timers, due uniformly
// from base over spread, spread over the partitions round-robin. Each
// timer's payload is its number.
func FillTimers(ctx context.Context, cl *kgo.Client, changelog string, partitions, n int, base time.Time, spread time.Duration) error {
	b := base.UnixMilli()
	return produceAll(ctx, cl, changelog, n, func(i int, emit func(*kgo.Record)) {
		tk := TimerKey(i)
		due := b + int64(i)*spread.Milliseconds()/int64(n)
		p := int32(i % partitions)
		dk := binary.BigEndian.AppendUint64([]byte{nsDue}, uint64(due))
		emit(&kgo.Record{Topic: changelog, Partition: p, Key: append(dk, tk...), Value: binary.BigEndian.AppendUint64(nil, uint64(i))})
		emit(&kgo.Record{Topic: changelog, Partition: p, Key: append([]byte{nsTimerKey}, tk...), Value: binary.BigEndian.AppendUint64(nil, uint64(due))})
	})
}

func produceAll(ctx context.Context, cl *kgo.Client, topic string, n int, gen func(i int, emit func(*kgo.Record))) error {
	var (
		mu    sync.Mutex
		first error
	)
	emit := func(r *kgo.Record) {
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		gen(i, emit)
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush %s: %w", topic, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if first != nil {
		return fmt.Errorf("produce to %s: %w", topic, first)
	}
	return nil
}
