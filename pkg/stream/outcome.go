package stream

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Outcome is what became of a message a transaction handled, as
// Metrics.Processed reports it once the transaction has ended.
type Outcome uint8

const (
	// OutcomeProcessed: handled, in a transaction that committed (a
	// table row not delivered to the processor was materialised).
	OutcomeProcessed Outcome = iota + 1
	// OutcomeDeadLettered: sent to the dead-letter topic (the processor
	// failed permanently, the record was misplaced or invalid, or the
	// broker refused its outputs), in a transaction that committed.
	OutcomeDeadLettered
	// OutcomeRetried: handled in a transaction that did not commit; it
	// is handled again, by this process or the partition's next owner.
	OutcomeRetried
)

func (o Outcome) String() string {
	switch o {
	case OutcomeProcessed:
		return "processed"
	case OutcomeDeadLettered:
		return "dead_lettered"
	case OutcomeRetried:
		return "retried"
	}
	return fmt.Sprintf("outcome(%d)", o)
}

// tallyKey is one series of Metrics.Processed.
type tallyKey struct {
	topic     string
	partition int32
	kind      Kind
	dead      bool
}

// deadLetterNote is one Metrics.DeadLettered call, made if the
// transaction commits.
type deadLetterNote struct{ topic, reason string }

// outcomes is what one partition's work handled, reported when the
// transaction ends: a transaction that aborts has processed nothing, and
// its messages are handled again. The partition's goroutine's alone.
type outcomes struct {
	tally       map[tallyKey]int
	deadLetters []deadLetterNote
	// after holds the processors' AfterCommit functions, in order.
	after []func()
	// off is set when there are no Metrics to report to (NopMetrics).
	off bool
}

func (o *outcomes) count(m *Message, kind Kind, dead bool) {
	if o.off {
		return
	}
	if o.tally == nil {
		o.tally = make(map[tallyKey]int, 4)
	}
	o.tally[tallyKey{m.Topic, m.Partition, kind, dead}]++
}

func (o *outcomes) deadLettered(m *Message, reason string) {
	if o.off {
		return
	}
	o.count(m, m.Kind, true)
	o.deadLetters = append(o.deadLetters, deadLetterNote{m.Topic, reason})
}

// report tells Metrics what became of the transaction's messages and,
// if it committed, runs the AfterCommit functions. Every partition's work
// is kept until here (run drops the idle ones from works only).
func (t *txn) report(committed bool) {
	mx := t.r.o.Metrics
	for _, o := range t.ended {
		for k, n := range o.tally {
			outcome := OutcomeRetried
			switch {
			case !committed:
			case k.dead:
				outcome = OutcomeDeadLettered
			default:
				outcome = OutcomeProcessed
			}
			mx.Processed(k.topic, k.partition, k.kind, outcome, n)
		}
		if !committed {
			continue
		}
		for _, d := range o.deadLetters {
			mx.DeadLettered(d.topic, d.reason)
		}
		for _, f := range o.after {
			f()
		}
	}
	t.ended = nil
}

// AfterCommit calls f once the transaction that carries this message has
// committed, on the processing loop, before the next transaction begins;
// never if the processor fails for the message or the transaction
// aborts (the message is then processed again, with a new Context). What
// must happen exactly once per processed message outside Kafka (exporting
// its spans, moving a gauge kept from state) goes here. f must be quick.
func (c *Context) AfterCommit(f func()) { c.after = append(c.after, f) }

// Watcher follows the partitions a runner owns, for what is kept in
// memory from their state (a gauge counted from it, say).
type Watcher interface {
	// Ready is called when a partition's store has been restored (on
	// assignment, or again after a failed store write), before any of its
	// messages is processed; scan reads its committed state. An error
	// fails the restore, which is retried.
	Ready(partition int32, scan StateScan) error
	// Released is called when the partition is revoked or lost, or its
	// store is to be restored again; Ready follows in that case.
	Released(partition int32)
}

// StateScan calls fn for each state key of the partition (Context.Set's
// keys) in key order, with its value, until fn returns false. Keys and
// values are only valid during fn.
type StateScan func(fn func(key, value []byte) bool) error

// Watch declares a Watcher of the group's partitions.
func Watch(w Watcher) Edge {
	return func(g *Group) { g.watchers = append(g.watchers, w) }
}

// watchReady tells the watchers that partition p is restored.
func (r *Runner) watchReady(ctx context.Context, p *partitionState) error {
	for _, w := range r.g.watchers {
		scan := func(fn func(key, value []byte) bool) error {
			it, err := p.st.db.NewIter(&pebble.IterOptions{LowerBound: []byte{nsState}, UpperBound: []byte{nsState + 1}})
			if err != nil {
				return err
			}
			defer it.Close()
			for valid := it.First(); valid && ctx.Err() == nil; valid = it.Next() {
				if !fn(it.Key()[1:], it.Value()) {
					break
				}
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			return it.Error()
		}
		if err := w.Ready(p.id, scan); err != nil {
			return fmt.Errorf("partition %d: watcher: %w", p.id, err)
		}
	}
	return nil
}

func (r *Runner) watchReleased(p *partitionState) {
	for _, w := range r.g.watchers {
		w.Released(p.id)
	}
}
