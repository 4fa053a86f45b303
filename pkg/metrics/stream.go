package metrics

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/beckon-dev/beckon/pkg/stream"
)

// Latency buckets in seconds: a transaction takes milliseconds to
// seconds; a restore seconds to hours.
var (
	latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
	restoreBuckets = []float64{0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600}
)

// topicPartition keys the per-partition series.
type topicPartition struct {
	topic     string
	partition int32
}

type topicKind struct {
	topic   string
	kind    stream.Kind
	outcome stream.Outcome
}

type topicClass struct{ topic, class string }

// Stream is the stream runtime's stream.Metrics, measured with
// OpenTelemetry instruments.
type Stream struct {
	processed     *counter[topicKind]
	txnSeconds    metric.Float64Histogram
	commitSeconds metric.Float64Histogram
	txnMessages   metric.Int64Histogram
	aborts        *counter[string]
	retries       *counter[string]
	deadLetters   *counter[topicClass]
	lag           *counter[topicPartition]
	timers        *counter[int32]
	restored      *counter[topicPartition]
	restoreTotal  *counter[topicPartition]
	restoreTook   metric.Float64Histogram
	byPartitionID *boundSets[int32]
	none          *bound
	owned         atomic.Pointer[func() []int32]
}

var _ stream.Metrics = (*Stream)(nil)
var _ stream.RestoreMetrics = (*Stream)(nil)
var _ stream.TxnTimingMetrics = (*Stream)(nil)

// NewStream creates the runtime's instruments on m.
func NewStream(m metric.Meter) (*Stream, error) {
	s := &Stream{
		byPartitionID: newBoundSets(func(p int32) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("partition", strconv.Itoa(int(p)))}
		}),
		none: bind(),
	}
	in := &instruments{m: m}
	perPartition := func(k topicPartition) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("topic", k.topic), attribute.String("partition", strconv.Itoa(int(k.partition)))}
	}
	s.processed = counterOf(in, "beckon_stream_messages", "Messages handled (records, table updates, timers), by outcome: processed, dead_lettered, or retried (their transaction aborted).",
		func(k topicKind) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("topic", k.topic), attribute.String("kind", k.kind.String()), attribute.String("outcome", k.outcome.String())}
		})
	s.aborts = counterOf(in, "beckon_stream_aborts", "Transactions that did not commit, by cause.", label("cause"))
	s.retries = counterOf(in, "beckon_stream_retries", "Partitions paused after a transient failure, by cause.", label("cause"))
	s.deadLetters = counterOf(in, "beckon_stream_dead_letters", "Messages sent to the dead-letter topic, by source topic and reason.",
		func(k topicClass) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("topic", k.topic), attribute.String("reason", k.class)}
		})
	s.lag = gaugeOf(in, "beckon_stream_consumer_lag", "Records between the last one fetched and the partition's high watermark.", perPartition)
	s.restored = gaugeOf(in, "beckon_stream_restore_offsets_restored", "Offsets read so far by the partition's latest restore from a topic.", perPartition)
	s.restoreTotal = gaugeOf(in, "beckon_stream_restore_offsets_target", "Offsets the partition's latest restore from a topic has to read.", perPartition)
	s.timers = gaugeOf(in, "beckon_stream_timers_pending", "Timers scheduled in a partition.", func(p int32) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("partition", strconv.Itoa(int(p)))}
	})
	s.txnSeconds = in.seconds("beckon_stream_transaction_duration", "Committed transactions: from begin to commit.", latencyBuckets)
	s.commitSeconds = in.seconds("beckon_stream_commit_duration", "Committed transactions: from the last message processed to the commit (flush, offsets, EndTxn).", latencyBuckets)
	s.restoreTook = in.seconds("beckon_stream_restore_duration", "Partition restores, from assignment to ready.", restoreBuckets)
	err := in.err
	if err == nil {
		s.txnMessages, err = m.Int64Histogram("beckon_stream_transaction_messages", metric.WithDescription("Messages per committed transaction."),
			metric.WithExplicitBucketBoundaries(1, 10, 100, 500, 1000, 2500, 5000, 10000))
	}
	if err == nil {
		ownedPartition := func(k topicPartition) bool { return s.owns(k.partition) }
		s.lag.keep, s.restored.keep, s.restoreTotal.keep, s.timers.keep = ownedPartition, ownedPartition, ownedPartition, s.owns
		err = register(m, s.processed, s.aborts, s.retries, s.deadLetters, s.lag, s.timers, s.restored, s.restoreTotal)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ReportOwned makes the per-partition gauges (lag, timers pending,
// restore progress) report only the partitions owned says this process
// owns, so a partition that moved away leaves no stale series behind.
// owned is called at each collection (*engine.Engine's OwnedPartitions).
func (s *Stream) ReportOwned(owned func() []int32) { s.owned.Store(&owned) }

// owns reports whether partition is owned, at this collection.
func (s *Stream) owns(partition int32) bool {
	f := s.owned.Load()
	if f == nil {
		return true
	}
	// A collection reads few series; a scan of the owned list is cheap.
	for _, p := range (*f)() {
		if p == partition {
			return true
		}
	}
	return false
}

// Processed counts handled messages by topic, kind and outcome.
func (s *Stream) Processed(topic string, _ int32, kind stream.Kind, outcome stream.Outcome, n int) {
	s.processed.add(topicKind{topic, kind, outcome}, int64(n))
}

// Committed records a committed transaction's duration and size.
func (s *Stream) Committed(d time.Duration, messages int) {
	s.txnSeconds.Record(context.Background(), d.Seconds(), s.none.rec...)
	s.txnMessages.Record(context.Background(), int64(messages), s.none.rec...)
}

// TxnTiming records a committed transaction's commit latency: the wait
// for its records' acknowledgements and the end of the transaction.
func (s *Stream) TxnTiming(t stream.TxnTiming) {
	s.commitSeconds.Record(context.Background(), (t.Flush + t.End).Seconds(), s.none.rec...)
}

// Aborted counts an aborted transaction by the class of its reason.
func (s *Stream) Aborted(reason string) {
	s.aborts.add(classify(transientRules, reason), 1)
}

// Retried counts a partition paused after a transient failure by the
// class of its reason.
func (s *Stream) Retried(_ int32, reason string, _ time.Duration) {
	s.retries.add(classify(transientRules, reason), 1)
}

// DeadLettered counts a dead letter by source topic and reason class.
func (s *Stream) DeadLettered(topic, reason string) {
	if topic == "" {
		topic = "timer"
	}
	s.deadLetters.add(topicClass{topic, classify(deadLetterRules, reason)}, 1)
}

// Lag records a partition's consumer lag.
func (s *Stream) Lag(topic string, partition int32, lag int64) {
	s.lag.set(topicPartition{topic, partition}, lag)
}

// TimersPending records the timers scheduled in a partition.
func (s *Stream) TimersPending(partition int32, n int64) {
	s.timers.set(partition, n)
}

// RestoreProgress records how far a partition's restore from topic is.
func (s *Stream) RestoreProgress(topic string, partition int32, restored, total int64) {
	k := topicPartition{topic, partition}
	s.restored.set(k, restored)
	s.restoreTotal.set(k, total)
}

// Restored records how long a partition's restore took.
func (s *Stream) Restored(partition int32, took time.Duration) {
	s.restoreTook.Record(context.Background(), took.Seconds(), s.byPartitionID.get(partition).rec...)
}
