package bench

import (
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/beckon-dev/beckon/pkg/stream"
)

// StartClock is a runtime clock that stands still just before Base until
// Start, then runs at wall-clock speed from Base. Timers prefilled with
// dues from Base on thus come due as if they had been scheduled the moment
// the runner became ready, however long its restore took.
type StartClock struct {
	Base    time.Time
	started atomic.Pointer[time.Time]
}

// Start sets the clock going.
func (c *StartClock) Start() {
	now := time.Now()
	c.started.CompareAndSwap(nil, &now)
}

// Now is the clock's time.
func (c *StartClock) Now() time.Time {
	s := c.started.Load()
	if s == nil {
		return c.Base.Add(-time.Millisecond)
	}
	return c.Base.Add(time.Since(*s))
}

// Started returns the wall-clock time Start was called, or zero.
func (c *StartClock) Started() time.Time {
	if s := c.started.Load(); s != nil {
		return *s
	}
	return time.Time{}
}

// TimerOutputSize is the size of a fired timer's output: when it was due
// and when the processor ran it, both on the runtime's clock (unix ns).
const TimerOutputSize = 16

// TimerProcessor emits, for every timer that fires, its key with its due
// time and the clock's time as the processor runs it.
func TimerProcessor(output string, clock func() time.Time) stream.Processor {
	return func(c *stream.Context, m stream.Message) error {
		if m.Kind != stream.KindTimer {
			return nil
		}
		c.Emit(output, m.Key, EncodeTimerOutput(m.Due, clock()))
		return nil
	}
}

// EncodeTimerOutput returns a fired timer's output.
func EncodeTimerOutput(due, fired time.Time) []byte {
	v := make([]byte, 0, TimerOutputSize)
	v = binary.BigEndian.AppendUint64(v, uint64(due.UnixNano()))
	return binary.BigEndian.AppendUint64(v, uint64(fired.UnixNano()))
}

// TimerOutput reads a timer output.
func TimerOutput(v []byte) (due, fired time.Time, ok bool) {
	if len(v) < TimerOutputSize {
		return time.Time{}, time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))), time.Unix(0, int64(binary.BigEndian.Uint64(v[8:]))), true
}
