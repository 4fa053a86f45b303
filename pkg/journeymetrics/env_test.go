package journeymetrics

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// env is a deployment's topics on the test broker, a codec and a
// producer.
type env struct {
	t       testing.TB
	ctx     context.Context
	brokers []string
	prefix  string
	layout  topics.Layout
	codec   *codec.Codec
	cl      *kgo.Client
	parts   int32
}

func newEnv(t testing.TB, partitions int32, opts topics.Options) *env {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	opts.Prefix, opts.Partitions, opts.ReplicationFactor = kafkatest.Prefix(t), partitions, 1
	layout, err := topics.Declare(opts)
	if err != nil {
		t.Fatal(err)
	}
	cl := kafkatest.Client(t, brokers)
	if _, err := topics.Apply(ctx, cl, layout); err != nil {
		t.Fatal(err)
	}
	cd, err := codec.New()
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, brokers: brokers, prefix: opts.Prefix, layout: layout, codec: cd, cl: cl, parts: partitions}
}

func (e *env) topic(base string) string {
	s, ok := e.layout.Spec(base)
	if !ok {
		e.t.Fatalf("no topic %s", base)
	}
	return s.Name
}

func (e *env) kafka() []kgo.Opt { return []kgo.Opt{kgo.SeedBrokers(e.brokers...)} }

func (e *env) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// produce writes r keyed by key and returns the partition it went to.
func (e *env) produce(base, key string, r records.Record) int32 {
	e.t.Helper()
	b, err := e.codec.Encode(e.ctx, e.topic(base), r)
	if err != nil {
		e.t.Fatal(err)
	}
	rec := &kgo.Record{Topic: e.topic(base), Key: []byte(key), Value: b}
	if err := e.cl.ProduceSync(e.ctx, rec).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
	return rec.Partition
}

// runGroup runs a stream group until the test ends or the returned stop
// is called, and waits until it owns and has restored every partition.
func (e *env) runGroup(g *stream.Group, o stream.Options) (stop func()) {
	e.t.Helper()
	r, stop := e.startGroup(g, o, true)
	waitFor(e.t, "the group to own every partition", func() bool { return r.Ready() && int32(len(r.Partitions())) == e.parts })
	return stop
}

// startGroup runs a stream group until the test ends or the returned
// stop is called; an error it returns fails the test when mustSucceed.
func (e *env) startGroup(g *stream.Group, o stream.Options, mustSucceed bool) (*stream.Runner, func()) {
	e.t.Helper()
	o.Kafka, o.Logger = e.kafka(), e.logger()
	if o.PollWait == 0 {
		o.PollWait = 20 * time.Millisecond
	}
	r, err := stream.New(g, o)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil && mustSucceed {
				e.t.Error(err)
			}
		}
	}
	e.t.Cleanup(stop)
	return r, stop
}

// follow runs a Reader of the metrics topic until the test ends.
func (e *env) follow() *Reader {
	e.t.Helper()
	r := NewReader(e.logger())
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	topic, err := TopicOf(e.layout)
	if err != nil {
		e.t.Fatal(err)
	}
	go func() { done <- r.Follow(ctx, e.kafka(), topic) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Error(err)
		}
	})
	waitFor(e.t, "the reader to load", r.Ready)
	return r
}

// sentinels sends a message of the journey "sentinel" on every partition,
// and a receipt after every other receipt: once the reader counts them all
// delivered, every record produced before them on either topic has been
// counted.
func (e *env) sentinels(round string, at time.Time) int64 {
	e.t.Helper()
	seen := map[int32]bool{}
	n := int64(0)
	for i := 0; int32(len(seen)) < e.parts; i++ {
		user := "sentinel-" + round + "-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		p := e.produce("receipts", user, records.Receipt{ReceiptID: user, CommandID: user, UserID: user, Channel: "email", Status: records.ReceiptDelivered, OccurredAt: at})
		e.produce("activity", user, records.Activity{ActivityID: user, InstanceID: user, JourneyID: "sentinel", JourneyVersion: 1,
			UserID: user, StepID: "s", Kind: records.ActivitySent, At: at, Details: records.JSON(`{"command_id":"` + user + `"}`)})
		seen[p] = true
		n++
	}
	return n
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readTopic returns every committed record of topic up to its end now.
func (e *env) readTopic(topic string) []*kgo.Record {
	e.t.Helper()
	adm := kadm.NewClient(kafkatest.Client(e.t, e.brokers))
	ends, err := adm.ListEndOffsets(e.ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		e.t.Fatal(err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	cl := kafkatest.Client(e.t, e.brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	ctx, cancel := context.WithTimeout(e.ctx, 60*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			e.t.Fatalf("read %s: timed out with %v left", topic, remaining)
		}
		for _, r := range fs.Records() {
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		}
	}
	return out
}
