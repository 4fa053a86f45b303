package stream

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind says why the processor is called.
type Kind uint8

const (
	// KindRecord is a record of an input topic.
	KindRecord Kind = iota + 1
	// KindTableUpdate is a record of a co-partitioned table declared with
	// Deliver: the store already holds the new row when the processor runs.
	KindTableUpdate
	// KindTimer is a timer that came due.
	KindTimer
)

func (k Kind) String() string {
	switch k {
	case KindRecord:
		return "record"
	case KindTableUpdate:
		return "table update"
	case KindTimer:
		return "timer"
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Message is one input to the processor.
type Message struct {
	Kind Kind
	// Topic, Partition and Offset locate a record or table update. A
	// timer has Topic "" and the partition it belongs to.
	Topic     string
	Partition int32
	Offset    int64
	// Key and Value are the record's, or the timer's key and payload.
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time
	// Due is when a timer was due (KindTimer only).
	Due time.Time
	// ctx is the record's context, holding the span of its fetch when
	// the Kafka client is traced.
	ctx context.Context
}

// Context returns the record's context: with the Kafka client traced
// (franz-go's kotel hooks), it holds the span of the record's receipt, so
// a log call made with it carries its trace and span IDs. Never nil.
func (m *Message) Context() context.Context {
	if m.ctx == nil {
		return context.Background()
	}
	return m.ctx
}

// Processor handles one message. It returns nil on success; an error
// marked Retryable aborts the transaction and the same messages are
// processed again after a backoff; any other error sends the message to the
// dead-letter topic, discards what the processor did for it, and moves on.
// A panic counts as a non-retryable error.
//
// The runtime calls the processor concurrently for different partitions
// (never for the same partition), so anything it shares across calls
// besides the Context must be safe for concurrent use.
type Processor func(c *Context, m Message) error

// Retryable marks err as transient (a dependency is briefly unavailable):
// the runtime retries instead of dead-lettering.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &retryableError{err}
}

// IsRetryable reports whether err was marked with Retryable.
func IsRetryable(err error) bool {
	var r *retryableError
	return errors.As(err, &r)
}

type retryableError struct{ err error }

func (r *retryableError) Error() string { return "retryable: " + r.err.Error() }
func (r *retryableError) Unwrap() error { return r.err }
