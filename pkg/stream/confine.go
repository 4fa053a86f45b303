package stream

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Confinement: a failure costs only its record or its partition.
//
// A Kafka transaction spans every partition of a poll, and a record
// produced into it cannot be taken back, so a transient failure of one
// partition (a retryable processor error, a store read, a refused
// produce) aborts the transaction. What is confined is the retry: the
// failed partition is paused with an exponential backoff and the others
// are processed again at once, so they lose one transaction, not their
// progress. A produce the broker refuses for the record itself (too large
// for the topic, an unknown or forbidden topic) is remembered, and the
// next attempt dead-letters the message that made it instead of producing
// it again.

// errConfined wraps the error of a transaction that failed because of
// some of its partitions only: the loop retries the others without
// waiting.
var errConfined = errors.New("failed partitions paused; the others retry at once")

// rejection is what a broker refused for one message, for its next
// attempt.
type rejection struct {
	reason string
	// deadLetter is set when the refused record was the message's dead
	// letter: the next one is cut to minDeadLetterBytes.
	deadLetter bool
}

// rejectionKey identifies a message across attempts.
func rejectionKey(m *Message) string {
	if m.Kind == KindTimer {
		return fmt.Sprintf("%d/timer/%x/%d", m.Partition, m.Key, m.Due.UnixMilli())
	}
	return fmt.Sprintf("%d/%s/%d", m.Partition, m.Topic, m.Offset)
}

// refusesRecord reports whether a produce error is about the record (or
// its topic) rather than the broker's or the producer's state: producing
// the same record again would fail again.
func refusesRecord(err error) bool {
	for _, e := range []error{
		kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord, kerr.CorruptMessage,
		kerr.UnknownTopicOrPartition, kerr.InvalidTopicException, kerr.TopicAuthorizationFailed,
		kerr.PolicyViolation, kerr.InvalidRequiredAcks,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// fail records a transient failure of partition id in this transaction.
func (t *txn) fail(id int32, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed == nil {
		t.failed = map[int32]error{}
	}
	t.failed[id] = errors.Join(t.failed[id], err)
}

// refused records that the broker refused a record made for message src.
func (t *txn) refused(src *Message, deadLetter bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rejected == nil {
		t.rejected = map[string]rejection{}
	}
	t.rejected[rejectionKey(src)] = rejection{reason: "the broker refused its output: " + err.Error(), deadLetter: deadLetter}
}

// usedRejection records that a remembered rejection was acted on, so it is
// forgotten once the transaction commits.
func (t *txn) usedRejection(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.usedRejections = append(t.usedRejections, key)
}

// confine handles a transaction that did not commit: the partitions that
// failed are paused with a growing backoff and the others retry at once;
// a failure no partition caused (ending the transaction, a rebalance)
// is returned as it was for the loop to wait and retry.
func (r *Runner) confine(t *txn, err error) error {
	var fatal *fatalError
	if errors.As(err, &fatal) {
		return err
	}
	for k, rej := range t.rejected {
		r.rejected[k] = rej
	}
	if len(t.failed) == 0 {
		return err
	}
	now := time.Now()
	var paused []int32
	for id, perr := range t.failed {
		p := r.owned(id)
		if p == nil || !p.ready.Load() {
			// Revoked, or still restoring: its restore resumes it.
			continue
		}
		wait := min(r.o.RetryBackoff<<min(p.failures, 20), r.o.MaxRetryBackoff)
		p.failures++
		p.retryAt = now.Add(wait)
		p.backingOff = true
		paused = append(paused, id)
		r.log.Warn("partition failed transiently; paused, the others continue", "partition", id, "attempt", p.failures, "retry_in", wait, "err", perr)
		r.o.Metrics.Retried(id, perr.Error(), wait)
	}
	if len(paused) == 0 {
		// Only partitions that are restoring or gone: nothing to confine,
		// the loop waits as for any failure.
		return err
	}
	r.sess.Client().PauseFetchPartitions(r.topicPartitions(paused))
	return fmt.Errorf("%w: %w", errConfined, err)
}

// settled clears what a committed transaction settled: the backoff of
// the partitions it processed and the rejections it acted on.
func (r *Runner) settled(t *txn) {
	for _, p := range t.touched {
		p.failures = 0
	}
	for _, k := range t.usedRejections {
		delete(r.rejected, k)
	}
}

// resumeDue resumes the partitions whose backoff has passed and returns the
// ready partitions that are not backing off.
func (r *Runner) resumeDue(ready []*partitionState) []*partitionState {
	now := time.Now()
	var resume []int32
	out := ready[:0]
	for _, p := range ready {
		if p.backingOff {
			if now.Before(p.retryAt) {
				continue
			}
			p.backingOff = false
			resume = append(resume, p.id)
		}
		out = append(out, p)
	}
	if len(resume) > 0 {
		r.sess.Client().ResumeFetchPartitions(r.topicPartitions(resume))
	}
	return out
}

func (r *Runner) owned(id int32) *partitionState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.parts[id]
}
