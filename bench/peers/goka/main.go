// Command goka is the benchmark's per-user counter written with
// github.com/lovoo/goka: the same read-modify-write of an 8-byte counter
// per user and one output per event as the runtime's counter
// (bench.CounterProcessor), at-least-once, with goka's default
// LevelDB storage. It lives in its own module so that goka and sarama stay
// out of Beckon's go.mod; cmd/streambench builds and runs it as a child
// process and reads its "ready <unix ns>" line.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated seed brokers")
	group := flag.String("group", "", "goka group (its table topic is <group>-table)")
	input := flag.String("input", "", "input topic")
	output := flag.String("output", "", "output topic")
	dir := flag.String("dir", "", "storage directory")
	flush := flag.Duration("flush", 10*time.Millisecond, "producer flush frequency (goka's default is 100ms; 10ms matches franz-go's default linger)")
	flag.Parse()
	if *group == "" || *input == "" || *output == "" || *dir == "" {
		log.Fatal("goka bench: -group, -input, -output and -dir are required")
	}
	if err := run(strings.Split(*brokers, ","), *group, *input, *output, *dir, *flush); err != nil {
		log.Fatalf("goka bench: %v", err)
	}
}

// uint64Codec encodes the counter as 8 bytes, big endian, like the
// runtime's counter.
type uint64Codec struct{}

func (uint64Codec) Encode(v any) ([]byte, error) {
	return binary.BigEndian.AppendUint64(nil, v.(uint64)), nil
}

func (uint64Codec) Decode(b []byte) (any, error) {
	if len(b) != 8 {
		return nil, fmt.Errorf("counter of %d bytes", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

func run(brokers []string, group, input, output, dir string, flush time.Duration) error {
	cfg := goka.DefaultConfig()
	// Streams start at the oldest offset so the pre-produced events count.
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Producer.Flush.Frequency = flush
	goka.ReplaceGlobalConfig(cfg)

	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication = 1
	tmc.Stream.Replication = 1

	out := goka.Stream(output)
	g := goka.DefineGroup(goka.Group(group),
		goka.Input(goka.Stream(input), new(codec.Bytes), func(ctx goka.Context, msg any) {
			n := uint64(0)
			if v := ctx.Value(); v != nil {
				n = v.(uint64)
			}
			n++
			ctx.SetValue(n)
			ev := msg.([]byte)
			val := make([]byte, 24)
			copy(val, ev[:min(16, len(ev))])
			binary.BigEndian.PutUint64(val[16:], n)
			ctx.Emit(out, ctx.Key(), val)
		}),
		goka.Output(out, new(codec.Bytes)),
		goka.Persist(new(uint64Codec)),
	)
	p, err := goka.NewProcessor(brokers, g,
		goka.WithStorageBuilder(storage.DefaultBuilder(dir)),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithTopicManagerConfig(tmc)),
	)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	go func() {
		if err := p.WaitForReadyContext(ctx); err == nil && ctx.Err() == nil {
			fmt.Println("ready", time.Now().UnixNano())
		}
	}()
	err = <-done
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
