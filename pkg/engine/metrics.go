package engine

import (
	"time"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// Metrics receives the engine's journey-level measurements (package
// metrics implements it). Entries, exits, sends and skips are counted once
// the transaction that produced them commits (an aborted one produced
// nothing); Handled and TimerFired as the message is processed.
// Implementations must be safe for concurrent use (partitions are
// processed in parallel) and cheap.
type Metrics interface {
	// Entered counts an instance that entered journey.
	Entered(journey string)
	// Exited counts an instance of journey that ended (exit, goal,
	// holdout or the end of its steps).
	Exited(journey string)
	// Sent counts a send command produced for channel.
	Sent(channel string)
	// Skipped counts a send or an entry that did not happen, and why
	// (the activity's reason).
	Skipped(reason string)
	// Handled records how long the engine took over one message.
	Handled(kind stream.Kind, took time.Duration)
	// TimerFired records how late a timer fired: the runtime's clock
	// when it fired minus its due time.
	TimerFired(lateness time.Duration)
}

// measured handles m, timing it for Metrics.
func (e *Engine) measured(c *stream.Context, m stream.Message) error {
	mx := e.cfg.Metrics
	if mx == nil {
		return e.handle(c, m)
	}
	began := time.Now()
	err := e.handle(c, m)
	mx.Handled(m.Kind, time.Since(began))
	if m.Kind == stream.KindTimer {
		mx.TimerFired(c.Now().Sub(m.Due))
	}
	return err
}

// observe reports the effects of one message to Metrics (and the
// instances it started and ended to ActiveMetrics) once its transaction
// commits.
func (e *Engine) observe(c partition, fx *journey.Effects) {
	mx := e.cfg.Metrics
	if mx == nil || len(fx.Sends) == 0 && len(fx.Activities) == 0 {
		return
	}
	sends, acts, p := fx.Sends, fx.Activities, c.Partition()
	c.AfterCommit(func() {
		for i := range sends {
			mx.Sent(sends[i].Channel)
		}
		for i := range acts {
			a := &acts[i]
			switch a.Kind {
			case records.ActivityEntered:
				mx.Entered(a.JourneyID)
				if e.active != nil {
					e.active.ActiveChanged(p, a.JourneyID, 1)
				}
			case records.ActivityExited:
				mx.Exited(a.JourneyID)
				if e.active != nil {
					e.active.ActiveChanged(p, a.JourneyID, -1)
				}
			case records.ActivitySkipped:
				mx.Skipped(a.Reason)
			}
		}
	})
}

// Owned returns how many partitions this engine owns (restoring or
// ready) and how many of them are ready; none before it runs.
func (e *Engine) Owned() (owned, ready int) {
	e.mu.Lock()
	r := e.runner
	e.mu.Unlock()
	if r == nil {
		return 0, 0
	}
	return r.Owned()
}

// OwnedPartitions returns the partition numbers this engine owns,
// restoring or ready; none before it runs.
func (e *Engine) OwnedPartitions() []int32 {
	e.mu.Lock()
	r := e.runner
	e.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.OwnedPartitions()
}
