package stream

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record size limits. A broker checks max.message.bytes against a batch as
// it arrives, compressed; a producer checks each record before compression.
// A record that compresses well can therefore be accepted by a broker at
// many times the size any producer will write again: its dead letter, or
// an output built from it, must be bounded by the producer's limit, not by
// the input's.
const (
	// DefaultProducerBatchMaxBytes is the producer's cap on one record
	// batch before compression, so on one record (franz-go's and the Java
	// client's default). Topics must accept at least this much
	// (TopicMaxMessageBytes).
	DefaultProducerBatchMaxBytes = 1_000_012
	// TopicMaxMessageBytes is the max.message.bytes the topics a runner
	// writes should have (Kafka's default): above the producer's cap, so
	// a batch the producer builds is never refused by the broker.
	TopicMaxMessageBytes = 1_048_588
	// recordFraming bounds what a record batch adds to the bytes of its one
	// record: the batch header (61 bytes) and the record's varint framing.
	recordFraming = 1 << 10
	// maxReasonBytes bounds a dead letter's reason header: an error text
	// may quote the input.
	maxReasonBytes = 4 << 10
	// maxKeptHeaderBytes bounds the original headers a dead letter keeps.
	maxKeptHeaderBytes = 64 << 10
	// maxKeptKeyBytes bounds the original key a dead letter keeps.
	maxKeptKeyBytes = 64 << 10
	// minDeadLetterBytes bounds the dead letter of a message whose first
	// dead letter the broker refused: the runtime's headers and little
	// else.
	minDeadLetterBytes = 16 << 10
	// defaultMaxBufferedBytes bounds what the producer buffers in a
	// transaction before Emit blocks until batches are sent.
	defaultMaxBufferedBytes = 256 << 20
)

// recordBytes is a record's size as the producer counts it against its
// batch limit: key, value and headers plus an upper bound of their
// framing.
func recordBytes(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value) + recordFraming
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 10
	}
	return n
}

// TooLargeError is the permanent error of a record whose output (an Emit
// or a state write that goes to the changelog) is larger than the producer
// may write: the message is dead-lettered instead of failing the
// transaction at produce time.
type TooLargeError struct {
	// What names the output: `output to "topic"` or `state key "k"`.
	What string
	// Bytes is the output's size and Limit the largest allowed.
	Bytes, Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes, over the %d-byte record limit", e.What, e.Bytes, e.Limit)
}

// UndeclaredOutputError is the permanent error of a message whose
// processor emitted to a topic the group does not declare with Output.
type UndeclaredOutputError struct{ Topic string }

func (e *UndeclaredOutputError) Error() string {
	return fmt.Sprintf("emit to %q: not an Output of the group", e.Topic)
}
