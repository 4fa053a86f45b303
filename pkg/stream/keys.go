package stream

import (
	"context"
	"fmt"
	"time"
)

// CheckPartitioning declares that every Input and Table of the group is
// keyed (by user ID, say) and partitioned with Kafka's default
// partitioner: murmur2 of the key, made positive, modulo the topic's
// partition count, as the Java clients, Kafka Streams and franz-go place
// keyed records. A record with an empty key, or whose key hashes to
// another partition than the one it was read from, is dead-lettered
// before the processor or the table sees it: processed where it was read,
// its key's state would be split across two partitions and two owners.
// The most common cause is a librdkafka-based producer, whose default
// partitioner is consistent_random (CRC32): the reason says so.
//
// Partition counts come from the cluster's metadata, read when a partition
// is assigned and again whenever a record's partition is beyond the count
// known.
func CheckPartitioning() Edge {
	return func(g *Group) { g.checkPartitioning = true }
}

// PartitionFor returns the partition Kafka's default partitioner gives a
// non-empty key in a topic of partitions partitions: the positive part of
// the key's murmur2 hash modulo the count (Java's Utils.toPositive(
// Utils.murmur2(key)) % numPartitions, franz-go's StickyKeyPartitioner).
func PartitionFor(key []byte, partitions int32) int32 {
	return int32(murmur2(key)&0x7fffffff) % partitions
}

// murmur2 is Kafka's variant of MurmurHash2 (seed 0x9747b28c), as in the
// Java client's Utils.murmur2.
func murmur2(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for len(b) >= 4 {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		b = b[4:]
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// Reasons of the partitioning check, as dead-letter reasons start.
const (
	ReasonNoKey          = "record has no key"
	ReasonWrongPartition = "record is on the wrong partition"
)

// misplaced returns why a record of an input or table may not be
// processed on the partition it was read from, or "" when it may. It
// fails (retryably) only when the topic's partition count is unknown.
func (r *Runner) misplaced(m Message) (string, error) {
	if !r.g.checkPartitioning {
		return "", nil
	}
	if len(m.Key) == 0 {
		return fmt.Sprintf("%s: every record of %s must be keyed by the user ID its partition is chosen by (docs/schemas.md, Keys and partitioning)", ReasonNoKey, m.Topic), nil
	}
	n, err := r.partitionCount(m.Topic, m.Partition)
	if err != nil {
		return "", err
	}
	want := PartitionFor(m.Key, n)
	if want == m.Partition {
		return "", nil
	}
	key := m.Key
	if len(key) > 64 {
		key = key[:64]
	}
	return fmt.Sprintf("%s: key %q hashes (murmur2, Kafka's default partitioner) to partition %d of %d, but was read from partition %d of %s; "+
		"the producer must partition with murmur2 like the Java client: librdkafka-based clients (confluent-kafka for Python, Go and .NET, node-rdkafka) default to consistent_random and must set partitioner=murmur2_random (docs/schemas.md, Keys and partitioning)",
		ReasonWrongPartition, key, want, n, m.Partition, m.Topic), nil
}

// partitionCount returns the partition count of a consumed topic, reading
// the metadata again when partition is beyond the count known (the topic
// grew) or the topic is not known yet.
func (r *Runner) partitionCount(topic string, partition int32) (int32, error) {
	r.countsMu.RLock()
	n := r.counts[topic]
	r.countsMu.RUnlock()
	if partition < n {
		return n, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.loadPartitionCounts(ctx); err != nil {
		return 0, Retryable(err)
	}
	r.countsMu.RLock()
	n = r.counts[topic]
	r.countsMu.RUnlock()
	if partition >= n {
		return 0, Retryable(fmt.Errorf("partition count of %s: metadata says %d, but a record came from partition %d", topic, n, partition))
	}
	return n, nil
}

// loadPartitionCounts reads the partition counts of the inputs and tables
// from the cluster's metadata.
func (r *Runner) loadPartitionCounts(ctx context.Context) error {
	if !r.g.checkPartitioning {
		return nil
	}
	details, err := r.adm.ListTopics(ctx, r.g.consumed()...)
	if err != nil {
		return fmt.Errorf("partition counts: %w", err)
	}
	counts := make(map[string]int32, len(details))
	for topic, d := range details {
		if d.Err != nil {
			return fmt.Errorf("partition count of %s: %w", topic, d.Err)
		}
		counts[topic] = int32(len(d.Partitions))
	}
	r.countsMu.Lock()
	r.counts = counts
	r.countsMu.Unlock()
	return nil
}
