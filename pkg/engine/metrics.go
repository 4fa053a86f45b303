package engine

import (
	"time"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// Metrics receives the engine's journey-level measurements (package
// metrics implements it). They are counted as the effects are produced,
// inside the transaction: a transaction that aborts and is processed
// again counts its effects again. Implementations must be safe for
// concurrent use (partitions are processed in parallel) and cheap.
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

// observe reports the effects of one message to Metrics.
func (e *Engine) observe(fx *journey.Effects) {
	mx := e.cfg.Metrics
	if mx == nil {
		return
	}
	for i := range fx.Sends {
		mx.Sent(fx.Sends[i].Channel)
	}
	for i := range fx.Activities {
		a := &fx.Activities[i]
		switch a.Kind {
		case records.ActivityEntered:
			mx.Entered(a.JourneyID)
		case records.ActivityExited:
			mx.Exited(a.JourneyID)
		case records.ActivitySkipped:
			mx.Skipped(a.Reason)
		}
	}
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
