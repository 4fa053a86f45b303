package stream

import "time"

// Metrics receives what SREs watch. Implementations must be safe for
// concurrent use and fast: they are called on the processing path.
type Metrics interface {
	// Processed counts messages of one kind handled for a topic partition
	// (topic "" for timers), and what became of them, when their
	// transaction has ended.
	Processed(topic string, partition int32, kind Kind, outcome Outcome, n int)
	// Committed reports a committed transaction: its duration from begin to
	// commit, and how many messages it carried.
	Committed(d time.Duration, messages int)
	// Aborted reports a transaction that did not commit, and why.
	Aborted(reason string)
	// RestoreProgress reports a partition's restore from topic (its
	// changelog or a table topic): offsets read so far and the total to
	// read (transaction markers included).
	RestoreProgress(topic string, partition int32, restored, total int64)
	// TimersPending reports the timers scheduled in a partition.
	TimersPending(partition int32, n int64)
	// DeadLettered counts a message sent to the dead-letter topic, once
	// its transaction has committed.
	DeadLettered(topic string, reason string)
	// Retried reports a partition paused after a transient failure, why,
	// and how long until it is processed again; the other partitions go on.
	Retried(partition int32, reason string, backoff time.Duration)
	// Lag reports how far a partition's consumer is behind its high
	// watermark.
	Lag(topic string, partition int32, lag int64)
}

// NopMetrics discards every measurement.
type NopMetrics struct{}

func (NopMetrics) Processed(string, int32, Kind, Outcome, int) {}
func (NopMetrics) Committed(time.Duration, int)                {}
func (NopMetrics) Aborted(string)                              {}
func (NopMetrics) RestoreProgress(string, int32, int64, int64) {}
func (NopMetrics) TimersPending(int32, int64)                  {}
func (NopMetrics) DeadLettered(string, string)                 {}
func (NopMetrics) Lag(string, int32, int64)                    {}
func (NopMetrics) Retried(int32, string, time.Duration)        {}

// RestoreMetrics is implemented by a Metrics that also wants each
// partition's restore time, from its assignment (or a failed store write)
// until it is ready.
type RestoreMetrics interface {
	Restored(partition int32, took time.Duration)
}
