package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Watcher reads a topic read_committed from its start, as a consumer of the
// pipeline's outputs would, and hands every record to a callback with the
// time the fetch carrying it returned.
type Watcher struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	n     int
	last  time.Time
	err   error
	waits []countWait
}

type countWait struct {
	n  int
	ch chan time.Time
}

// Watch starts reading topic. fn runs on the watcher's goroutine.
func Watch(brokers []string, topic string, fn func(r *kgo.Record, seen time.Time)) (*Watcher, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// On a real broker a long-polling fetch was at times answered
		// only when its wait ran out, although records had arrived
		// meanwhile: with franz-go's default 5s wait that put multi-second
		// stalls into every pipeline's figures. A short wait keeps the
		// watcher's own delay out of the measurement.
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", topic, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{cl: cl, cancel: cancel, done: make(chan struct{})}
	go w.loop(ctx, fn)
	return w, nil
}

func (w *Watcher) loop(ctx context.Context, fn func(*kgo.Record, time.Time)) {
	defer close(w.done)
	for {
		fs := w.cl.PollFetches(ctx)
		seen := time.Now()
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				w.mu.Lock()
				w.err = fmt.Errorf("fetch %s[%d]: %w", t, p, err)
				w.mu.Unlock()
			}
		})
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		for _, r := range recs {
			fn(r, seen)
		}
		w.mu.Lock()
		w.n += len(recs)
		w.last = seen
		kept := w.waits[:0]
		for _, cw := range w.waits {
			if w.n >= cw.n {
				cw.ch <- seen
			} else {
				kept = append(kept, cw)
			}
		}
		w.waits = kept
		w.mu.Unlock()
	}
}

// Count returns how many records were read and when the last arrived.
func (w *Watcher) Count() (int, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n, w.last
}

// WaitFor returns the time at which at least n records had been read, or
// an error when ctx ends first.
func (w *Watcher) WaitFor(ctx context.Context, n int) (time.Time, error) {
	w.mu.Lock()
	if w.n >= n {
		t := w.last
		w.mu.Unlock()
		return t, nil
	}
	ch := make(chan time.Time, 1)
	w.waits = append(w.waits, countWait{n: n, ch: ch})
	w.mu.Unlock()
	select {
	case t := <-ch:
		return t, nil
	case <-ctx.Done():
		got, _ := w.Count()
		w.mu.Lock()
		ferr := w.err
		w.mu.Unlock()
		return time.Time{}, fmt.Errorf("read %d of %d records: %w (last fetch error: %v)", got, n, ctx.Err(), ferr)
	}
}

// Settle waits until no record has arrived for quiet, so that duplicates
// arriving after the expected count are seen, or until ctx ends.
func (w *Watcher) Settle(ctx context.Context, quiet time.Duration) {
	for {
		n0, _ := w.Count()
		select {
		case <-ctx.Done():
			return
		case <-time.After(quiet):
		}
		if n1, _ := w.Count(); n1 == n0 {
			return
		}
	}
}

// Close stops reading.
func (w *Watcher) Close() {
	w.cancel()
	<-w.done
	w.cl.Close()
}
