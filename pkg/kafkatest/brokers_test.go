package kafkatest

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestProduceConsume(t *testing.T) {
	t.Parallel()
	brokers := Brokers(t)
	t.Logf("brokers %v, real Kafka: %v", brokers, Real())
	topic := Prefix(t) + "records"
	CreateTopics(t, brokers, 1, topic)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	producer := Client(t, brokers)
	if err := producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("user-1"), Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	consumer := Client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := consumeUntil(ctx, t, consumer, "hello")
	if len(got) != 1 || string(got[0].Key) != "user-1" || got[0].Topic != topic {
		t.Fatalf("consumed %v, want one record user-1=hello on %s", got, topic)
	}
}

// A consumer group member gets the partition without delay and its commit
// is visible to the admin API.
func TestConsumerGroupCommits(t *testing.T) {
	t.Parallel()
	brokers := Brokers(t)
	prefix := Prefix(t)
	topic, group := prefix+"events", prefix+"group"
	CreateTopics(t, brokers, 1, topic)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := Client(t, brokers).ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("signed-up")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	member := Client(t, brokers, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	consumeUntil(ctx, t, member, "signed-up")
	if err := member.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	offsets, err := kadm.NewClient(Client(t, brokers)).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch committed offsets: %v", err)
	}
	if o, ok := offsets.Lookup(topic, 0); !ok || o.At != 1 {
		t.Fatalf("committed offset of %s[0] = %+v (found %v), want 1", topic, o, ok)
	}
}

func TestBrokersFromEnv(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	t.Setenv(EnvBrokers, " "+addr+" , ")

	if !Real() {
		t.Errorf("Real() = false with %s set", EnvBrokers)
	}
	if got := Brokers(t); !slices.Equal(got, []string{addr}) {
		t.Errorf("Brokers = %q, want [%s]", got, addr)
	}
}

func TestBrokersWithoutEnvIsKfake(t *testing.T) {
	t.Setenv(EnvBrokers, "")
	if Real() {
		t.Errorf("Real() = true with %s empty", EnvBrokers)
	}
	a, b := Brokers(t), Brokers(t)
	if len(a) != 1 || len(b) != 1 || a[0] == b[0] {
		t.Errorf("two calls gave %q and %q, want two separate one-broker clusters", a, b)
	}
}

// A configured broker that is down fails the test: skipping would let a
// CI run with a dead broker pass.
func TestBrokersFromEnvUnreachableFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	t.Setenv(EnvBrokers, dead)
	defer func(d time.Duration) { reachTimeout = d }(reachTimeout)
	reachTimeout = time.Second

	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Brokers(rec)
	}()
	<-done
	if rec.skipped != "" {
		t.Fatalf("Brokers skipped the test (%s); it must fail", rec.skipped)
	}
	if !strings.Contains(rec.fatal, EnvBrokers) || !strings.Contains(rec.fatal, dead) {
		t.Fatalf("Brokers with a dead %s failed with %q, want a fatal naming the variable and %s", EnvBrokers, rec.fatal, dead)
	}
}

// recorder is a testing.TB that records Fatal and Skip calls instead of
// ending the test; like the real ones, they end the calling goroutine.
type recorder struct {
	testing.TB
	fatal, skipped string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Fatal(args ...any)            { r.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...); runtime.Goexit() }
func (r *recorder) FailNow()                     { r.fatal = "FailNow"; runtime.Goexit() }
func (r *recorder) Skip(args ...any)             { r.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Skipf(f string, args ...any) {
	r.skipped = fmt.Sprintf(f, args...)
	runtime.Goexit()
}
func (r *recorder) SkipNow() { r.skipped = "SkipNow"; runtime.Goexit() }

// consumeUntil polls cl until it has a record whose value is last, and
// returns every record polled up to and including it.
func consumeUntil(ctx context.Context, t *testing.T, cl *kgo.Client, last string) []*kgo.Record {
	t.Helper()
	var got []*kgo.Record
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no record %q before %v; polled %q", last, ctx.Err(), values(got))
		}
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll: %v", err)
		}
		for _, r := range fs.Records() {
			got = append(got, r)
			if string(r.Value) == last {
				return got
			}
		}
	}
}

func values(rs []*kgo.Record) []string {
	vs := make([]string, len(rs))
	for i, r := range rs {
		vs[i] = string(r.Value)
	}
	return vs
}
