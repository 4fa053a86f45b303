package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// EventSize is the size of an input event's value: its send time (unix ns,
// big endian), its sequence number and a filler standing for an event body.
const EventSize = 64

// OutputSize is the size of a counter's output value: the event's send time
// and sequence number, then the user's count after the event.
const OutputSize = 24

// EncodeEvent returns an event value stamped with sent and seq.
func EncodeEvent(sent time.Time, seq uint64) []byte {
	b := make([]byte, EventSize)
	binary.BigEndian.PutUint64(b, uint64(sent.UnixNano()))
	binary.BigEndian.PutUint64(b[8:], seq)
	for i := 16; i < EventSize; i++ {
		b[i] = byte('a' + i%26)
	}
	return b
}

// EncodeOutput returns the counter's output for an event value and the
// user's new count.
func EncodeOutput(event []byte, count uint64) []byte {
	b := make([]byte, OutputSize)
	copy(b, event[:min(16, len(event))])
	binary.BigEndian.PutUint64(b[16:], count)
	return b
}

// Stamp reads the send time and sequence number of an event or an output.
func Stamp(v []byte) (sent time.Time, seq uint64, ok bool) {
	if len(v) < 16 {
		return time.Time{}, 0, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))), binary.BigEndian.Uint64(v[8:]), true
}

// OutputCount reads the count of a counter's output.
func OutputCount(v []byte) (uint64, bool) {
	if len(v) < OutputSize {
		return 0, false
	}
	return binary.BigEndian.Uint64(v[16:]), true
}

// UserKey is the key of user i.
func UserKey(i int) []byte { return fmt.Appendf(nil, "user-%07d", i) }

// UserIndex parses a key made by UserKey.
func UserIndex(k []byte) (int, bool) {
	const prefix = "user-"
	if len(k) <= len(prefix) || string(k[:len(prefix)]) != prefix {
		return 0, false
	}
	i := 0
	for _, c := range k[len(prefix):] {
		if c < '0' || c > '9' {
			return 0, false
		}
		i = i*10 + int(c-'0')
	}
	return i, true
}

// Plan is a pre-produced workload: which user each event goes to.
type Plan struct {
	Users   int
	Events  int
	PerUser []int // events per user
	user    []int32
}

// NewPlan spreads events uniformly at random (a fixed seed) over users.
func NewPlan(events, users int, seed uint64) *Plan {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	p := &Plan{Users: users, Events: events, PerUser: make([]int, users), user: make([]int32, events)}
	for i := range events {
		u := rng.IntN(users)
		p.user[i] = int32(u)
		p.PerUser[u]++
	}
	return p
}

// Produce writes the plan's events to topic, keyed by user, and waits until
// every one is acknowledged.
func (p *Plan) Produce(ctx context.Context, cl *kgo.Client, topic string) error {
	var (
		mu    sync.Mutex
		first error
	)
	now := time.Now()
	for i, u := range p.user {
		r := &kgo.Record{Topic: topic, Key: UserKey(int(u)), Value: EncodeEvent(now, uint64(i))}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush events to %s: %w", topic, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if first != nil {
		return fmt.Errorf("produce events to %s: %w", topic, first)
	}
	return nil
}

// Pace produces events to topic at rate per second for d, each stamped with
// the time it is handed to the client, to users chosen at random. It
// returns how many it produced once all are acknowledged.
func Pace(ctx context.Context, cl *kgo.Client, topic string, rate float64, d time.Duration, users int, seed uint64) (int, error) {
	rng := rand.New(rand.NewPCG(seed, 0xfade))
	var (
		mu    sync.Mutex
		first error
	)
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	sent := 0
	for {
		el := time.Since(start)
		if el >= d || ctx.Err() != nil {
			break
		}
		for target := int(rate * el.Seconds()); sent < target; sent++ {
			now := time.Now()
			r := &kgo.Record{Topic: topic, Key: UserKey(rng.IntN(users)), Value: EncodeEvent(now, uint64(sent))}
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			})
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return sent, fmt.Errorf("flush paced events to %s: %w", topic, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return sent, first
}
