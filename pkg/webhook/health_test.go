package webhook

import (
	"strings"
	"testing"
	"time"
)

// TestHealthTellsTheTruth: not ready before Run consumes; healthy while
// its poll loop turns, not once the loop has stalled for stallAfter, and
// neither ready nor healthy once Run has returned.
func TestHealthTellsTheTruth(t *testing.T) {
	var s Sender
	if s.Ready() || s.Health() != nil {
		t.Fatalf("starting: ready %v, health %v; want not ready and healthy", s.Ready(), s.Health())
	}
	s.started()
	if !s.Ready() || s.Health() != nil {
		t.Fatalf("running: ready %v, health %v", s.Ready(), s.Health())
	}
	s.live.beatAt.Store(time.Now().Add(-stallAfter - time.Second).UnixNano())
	if err := s.Health(); err == nil || !strings.Contains(err.Error(), "poll loop stalled") {
		t.Fatalf("stalled loop: health %v", err)
	}
	s.beat()
	if err := s.Health(); err != nil {
		t.Fatalf("loop turned again: %v", err)
	}
	s.stopped()
	if s.Ready() || s.Health() == nil {
		t.Fatalf("stopped: ready %v, health %v", s.Ready(), s.Health())
	}
}
