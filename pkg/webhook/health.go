package webhook

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// pollTick bounds a poll, so the loop turns (and beats) while idle.
const pollTick = time.Second

// stallAfter is how long the poll loop may not turn before Health says
// so. A poll returns within pollTick; handing records to a full worker
// never blocks (the partition is paused instead).
const stallAfter = time.Minute

// liveness is what Health and Ready read: whether Run consumes, and when
// the poll loop last turned.
type liveness struct {
	running atomic.Bool
	done    atomic.Bool
	beatAt  atomic.Int64 // unix nanoseconds
}

func (s *Sender) beat() { s.live.beatAt.Store(time.Now().UnixNano()) }

func (s *Sender) started() {
	s.beat()
	s.live.running.Store(true)
}

func (s *Sender) stopped() {
	s.live.running.Store(false)
	s.live.done.Store(true)
}

// Ready reports whether the sender consumes: it keeps no state to
// restore, so it is ready once Run has its client, until Run returns.
func (s *Sender) Ready() bool { return s.live.running.Load() }

// Health is nil while the sender is alive and its poll loop turns: an
// error once Run has returned, or when the loop has not turned for a
// minute.
func (s *Sender) Health() error {
	if s.live.done.Load() {
		return errors.New("webhook sender stopped")
	}
	if !s.live.running.Load() {
		return nil // starting
	}
	if since := time.Since(time.Unix(0, s.live.beatAt.Load())); since > stallAfter {
		return fmt.Errorf("webhook sender: poll loop stalled for %v", since.Round(time.Second))
	}
	return nil
}
