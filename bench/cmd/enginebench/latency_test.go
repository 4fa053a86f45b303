package main

import (
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/bench"
)

// A latency run whose sends all fell in the warm-up has no figures: the
// report says so rather than print zeros.
func TestLatencyTextWithoutSamples(t *testing.T) {
	got := latencyText(bench.Summarise(nil), 12)
	if !strings.HasPrefix(got, "no samples (12 sends") || strings.Contains(got, "0s") {
		t.Errorf("no samples: got %q", got)
	}
	got = latencyText(bench.Summarise([]time.Duration{10 * time.Millisecond, 30 * time.Millisecond}), 2)
	if got != "10ms / **30ms** / 30ms (2 sends, 2 samples)" {
		t.Errorf("two samples: got %q", got)
	}
}
