package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/stream"
)

// StreamConfig configures a runtime pipeline in this process.
type StreamConfig struct {
	Brokers    []string
	Group      string
	Input      string
	Output     string
	Changelog  string
	DeadLetter string
	StateDir   string
	Partitions int
	// Clock is the runtime's clock (Options.Clock); nil for time.Now.
	Clock func() time.Time
	// Ready is called once the runner owns all Partitions, restored.
	Ready func()
	// Metrics receives the runner's measurements; nil for none.
	Metrics stream.Metrics
	// KafkaOpts are added to the connection options (a debug logger).
	KafkaOpts []kgo.Opt
	// Tune, if set, adjusts the runner's options before it starts.
	Tune func(*stream.Options)
}

// CounterProcessor is the runtime's workload: a read-modify-write of a
// per-user counter (8 bytes, big endian) and one output per event carrying
// the event's stamp and the new count, exactly-once.
func CounterProcessor(output string) stream.Processor {
	return func(c *stream.Context, m stream.Message) error {
		v, ok, err := c.Get(m.Key)
		if err != nil {
			return stream.Retryable(err)
		}
		n := uint64(0)
		if ok && len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		n++
		c.Set(m.Key, binary.BigEndian.AppendUint64(nil, n))
		c.Emit(output, m.Key, EncodeOutput(m.Value, n))
		return nil
	}
}

// RunStream runs a runner of process until ctx ends.
func RunStream(ctx context.Context, c StreamConfig, process stream.Processor) error {
	g, err := stream.Define(c.Group, stream.Input(c.Input), stream.Changelog(c.Changelog), stream.DeadLetter(c.DeadLetter), stream.Process(process))
	if err != nil {
		return err
	}
	o := stream.Options{
		Kafka:      append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, c.KafkaOpts...),
		StateDir:   c.StateDir,
		InstanceID: "bench-1",
		Clock:      c.Clock,
		Metrics:    c.Metrics,
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if c.Tune != nil {
		c.Tune(&o)
	}
	r, err := stream.New(g, o)
	if err != nil {
		return err
	}
	watch, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-watch.Done():
				return
			case <-t.C:
			}
			if r.Ready() && len(r.Partitions()) == c.Partitions {
				if c.Ready != nil {
					c.Ready()
				}
				return
			}
		}
	}()
	if err := r.Run(ctx); err != nil {
		return fmt.Errorf("stream runner: %w", err)
	}
	return nil
}
