package bench

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

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
	phases   []stream.TxnTiming
	queued   []time.Duration // event sent to its processor call
	first    time.Time       // send time of the first stamped message
}

// TxnTiming records where a committed transaction spent its time.
func (s *TxnStats) TxnTiming(t stream.TxnTiming) {
	s.mu.Lock()
	s.phases = append(s.phases, t)
	s.mu.Unlock()
}

// Stamped wraps p to record, for each message stamped by the benchmark's
// producer (Stamp) at least warmup after the first, the time from its send
// to its processor call: the part of an event's latency before the runner
// processes it.
func (s *TxnStats) Stamped(p stream.Processor, warmup time.Duration) stream.Processor {
	return func(c *stream.Context, m stream.Message) error {
		if sent, _, ok := Stamp(m.Value); ok && m.Kind == stream.KindRecord {
			d := time.Since(sent)
			s.mu.Lock()
			if s.first.IsZero() {
				s.first = sent
			}
			if !sent.Before(s.first.Add(warmup)) {
				s.queued = append(s.queued, d)
			}
			s.mu.Unlock()
		}
		return p(c, m)
	}
}

// Phases summarises the transactions' phases (TxnTiming) and the time
// from an event's send to its processor call, one line each.
func (s *TxnStats) Phases() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.phases) == 0 {
		return ""
	}
	var b strings.Builder
	phase := func(name string, f func(stream.TxnTiming) time.Duration) {
		d := make([]time.Duration, len(s.phases))
		var sum time.Duration
		for i, t := range s.phases {
			d[i] = f(t)
			sum += d[i]
		}
		l := Summarise(d)
		fmt.Fprintf(&b, "\n  %-8s mean %7v p50 %7v p99 %7v max %7v", name, (sum / time.Duration(len(d))).Round(10*time.Microsecond),
			l.P50.Round(10*time.Microsecond), l.P99.Round(10*time.Microsecond), l.Max.Round(10*time.Microsecond))
	}
	phase("poll", func(t stream.TxnTiming) time.Duration { return t.Poll })
	phase("process", func(t stream.TxnTiming) time.Duration { return t.Process })
	phase("flush", func(t stream.TxnTiming) time.Duration { return t.Flush })
	phase("end", func(t stream.TxnTiming) time.Duration { return t.End })
	phase("apply", func(t stream.TxnTiming) time.Duration { return t.Apply })
	phase("loop", func(t stream.TxnTiming) time.Duration { return t.Poll + t.Process + t.Flush + t.End + t.Apply })
	if len(s.queued) > 0 {
		l := Summarise(append([]time.Duration(nil), s.queued...))
		fmt.Fprintf(&b, "\n  sent to processor call p50 %v p99 %v max %v (%d events)", l.P50.Round(10*time.Microsecond), l.P99.Round(10*time.Microsecond), l.Max.Round(10*time.Microsecond), l.N)
	}
	return b.String()
}

// KgoEvents is a franz-go logger (info level) that counts the client's
// immediate metadata refreshes by reason: a produce that met
// CONCURRENT_TRANSACTIONS (or another retryable error) waits for one.
type KgoEvents struct {
	mu      sync.Mutex
	reasons map[string]int
}

// Level implements kgo.Logger.
func (*KgoEvents) Level() kgo.LogLevel { return kgo.LogLevelInfo }

// Log implements kgo.Logger.
func (e *KgoEvents) Log(_ kgo.LogLevel, msg string, keyvals ...any) {
	if !strings.HasPrefix(msg, "immediate metadata update triggered") {
		return
	}
	why := ""
	for i := 0; i+1 < len(keyvals); i += 2 {
		if keyvals[i] == "why" {
			why = fmt.Sprint(keyvals[i+1])
		}
	}
	e.mu.Lock()
	if e.reasons == nil {
		e.reasons = map[string]int{}
	}
	e.reasons[why]++
	e.mu.Unlock()
}

// String lists the counted refreshes.
func (e *KgoEvents) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return fmt.Sprintf("immediate metadata refreshes %v", e.reasons)
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
