package stream

import "time"

// TxnTimingMetrics is implemented by a Metrics that also wants to know
// where each committed transaction spent its time: the phases that make
// up an event's latency through the runner. The benchmarks use it.
type TxnTimingMetrics interface {
	TxnTiming(TxnTiming)
}

// TxnTiming is where one committed transaction spent its time, phase by
// phase, in the order they run.
type TxnTiming struct {
	// Poll is the loop's poll that gathered the transaction's records,
	// its waits included.
	Poll time.Duration
	// Process runs from Begin until the last processor call returned;
	// outputs and changelog records are produced during it.
	Process time.Duration
	// Flush waits for the broker to acknowledge every record produced.
	Flush time.Duration
	// End is the session's end: the offset commit, the group heartbeat
	// that secures it and EndTxn.
	End time.Duration
	// Apply writes the committed transaction into the stores.
	Apply time.Duration
	// Messages is how many messages the transaction processed.
	Messages int
}

// reportTiming passes t to the runner's Metrics if it wants it.
func (r *Runner) reportTiming(t TxnTiming) {
	if m, ok := r.o.Metrics.(TxnTimingMetrics); ok {
		m.TxnTiming(t)
	}
}
