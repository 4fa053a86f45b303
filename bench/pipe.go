package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// PipeConfig configures the ceiling: a plain franz-go consumer group that
// produces one output per input, keyed like the input, with no state and no
// transactions (offsets are auto-committed, so it is at-least-once at best).
type PipeConfig struct {
	Brokers    []string
	Group      string
	Input      string
	Output     string
	Partitions int
	// Ready is called once the group owns all Partitions of Input.
	Ready func()
}

// RunPipe runs the pipe until ctx ends.
func RunPipe(ctx context.Context, c PipeConfig) error {
	var assigned atomic.Int64
	var once sync.Once
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.Brokers...),
		kgo.ConsumerGroup(c.Group),
		kgo.ConsumeTopics(c.Input),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if assigned.Add(int64(len(m[c.Input]))) >= int64(c.Partitions) && c.Ready != nil {
				once.Do(c.Ready)
			}
		}),
	)
	if err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	defer cl.Close()
	var failed atomic.Pointer[error]
	for ctx.Err() == nil {
		fs := cl.PollRecords(ctx, 10000)
		if fs.IsClientClosed() {
			break
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				failed.CompareAndSwap(nil, &err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			cl.Produce(ctx, &kgo.Record{Topic: c.Output, Key: r.Key, Value: r.Value}, func(_ *kgo.Record, err error) {
				if err != nil && !errors.Is(err, context.Canceled) {
					failed.CompareAndSwap(nil, &err)
				}
			})
		})
		if e := failed.Load(); e != nil {
			return fmt.Errorf("pipe: %w", *e)
		}
	}
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = cl.Flush(fctx)
	return nil
}
