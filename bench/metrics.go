package bench

import (
	"fmt"
	"sync"
	"time"

	"github.com/beckon-dev/beckon/pkg/stream"
)

// TxnStats is a stream.Metrics that keeps what explains a run's figures:
// how long transactions took and how many messages each carried.
type TxnStats struct {
	stream.NopMetrics
	mu       sync.Mutex
	took     []time.Duration
	messages int
	aborted  int
	reasons  map[string]int
}

// Committed records a committed transaction.
func (s *TxnStats) Committed(d time.Duration, messages int) {
	s.mu.Lock()
	s.took = append(s.took, d)
	s.messages += messages
	s.mu.Unlock()
}

// Aborted records a transaction that did not commit.
func (s *TxnStats) Aborted(reason string) {
	s.mu.Lock()
	s.aborted++
	if s.reasons == nil {
		s.reasons = map[string]int{}
	}
	s.reasons[reason]++
	s.mu.Unlock()
}

// String summarises the transactions so far.
func (s *TxnStats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := append([]time.Duration(nil), s.took...)
	l := Summarise(d)
	per := 0.0
	if l.N > 0 {
		per = float64(s.messages) / float64(l.N)
	}
	return fmt.Sprintf("%d transactions committed (%.0f messages each on average; begin to commit p50 %v p99 %v max %v), %d aborted %v",
		l.N, per, l.P50.Round(time.Microsecond), l.P99.Round(time.Microsecond), l.Max.Round(time.Microsecond), s.aborted, s.reasons)
}
