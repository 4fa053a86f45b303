package timeline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// BenchmarkProcessorThroughput runs the timeline processor over a
// backlog of abandoned-cart journeys on 3 partitions: per instance the
// engine's records (entered, three hold resets, the hold timing out, the
// send with its send command, a receipt, the exit: nine records), each
// activity with its input header. It reports the records recorded per
// second, from the processor's start to the last instance's exit showing
// in its timeline, and the test process's CPU per record (on kfake that
// includes the in-process broker serving the fetches and the changelog
// writes; under withkafka it is the processor alone).
//
//	go test -run XXX -bench ProcessorThroughput -benchtime 1x ./pkg/timeline
func BenchmarkProcessorThroughput(b *testing.B) {
	var rate, cpu float64
	for range b.N {
		b.StopTimer()
		r, c := recordBacklog(b)
		rate, cpu = rate+r, cpu+c
		b.StartTimer()
	}
	b.ReportMetric(rate/float64(b.N), "records/s")
	b.ReportMetric(cpu/float64(b.N), "µs-CPU/record")
}

func recordBacklog(b *testing.B) (rate, cpuPerRecord float64) {
	const instances = 3000
	k := newKafkaEnv(b, 3)
	ctx, layout, cd, cl, brokers := k.ctx, k.layout, k.cd, k.cl, k.brokers
	name := k.topic
	var recs []*kgo.Record
	enc := func(base, key string, r records.Record, headers ...kgo.RecordHeader) {
		v, err := cd.Encode(ctx, name(base), r)
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: name(base), Key: []byte(key), Value: v, Headers: headers})
	}
	at := time.Now().UTC().Add(-time.Hour)
	for i := range instances {
		user, inst, cmd := fmt.Sprintf("user-%05d", i), "inst-"+strconv.Itoa(i), "cmd-"+strconv.Itoa(i)
		seq := 0
		act := func(kind records.ActivityKind, step, reason, details string, in Input) {
			seq++
			a := records.Activity{ActivityID: inst + "-" + strconv.Itoa(seq), InstanceID: inst, JourneyID: "abandoned-cart", JourneyVersion: 1, UserID: user,
				EntryKey: "c1", StepID: step, Kind: kind, Reason: reason, At: at}
			if details != "" {
				a.Details = records.JSON(details)
			}
			enc("activity", user, a, kgo.RecordHeader{Key: InputHeader, Value: AppendInput(nil, &in)})
		}
		event := Input{Type: "event", Name: "Product Added", MessageID: "m-" + strconv.Itoa(i), Timestamp: at}
		act(records.ActivityEntered, "idle", "trigger Product Added", "", event)
		for range 3 {
			act(records.ActivityWaiting, "idle", "timer reset by Product Added", `{"until":"2026-03-02T11:00:00Z","resets":1}`, event)
		}
		timer := Input{Type: "timer"}
		act(records.ActivityStepCompleted, "idle", "hold timed out", "", timer)
		enc("send.email", user, records.SendCommand{CommandID: cmd, JourneyID: "abandoned-cart", JourneyVersion: 1, InstanceID: inst, StepID: "remind", UserID: user,
			Channel: "email", Recipient: user + "@example.com", TemplateID: "cart-reminder", Payload: records.JSON(`{"items":["A","B","C"]}`), CreatedAt: at})
		act(records.ActivitySent, "remind", "email cart-reminder", `{"command_id":"`+cmd+`"}`, timer)
		enc("receipts", user, records.Receipt{ReceiptID: "r-" + cmd, CommandID: cmd, UserID: user, Channel: "email", Status: records.ReceiptDelivered, OccurredAt: at})
		act(records.ActivityExited, "remind", "completed", "", timer)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{Topics: layout, Codec: cd, Group: kafkatest.Prefix(b) + "timelines", Logger: warnings()})
	if err != nil {
		b.Fatal(err)
	}
	start, cpu0 := time.Now(), processCPU()
	done := make(chan error, 1)
	rctx, stop := context.WithCancel(ctx)
	go func() {
		done <- p.Run(rctx, stream.Options{Kafka: []kgo.Opt{kgo.SeedBrokers(brokers...)}, StateDir: b.TempDir(), InstanceID: "bench", PollWait: 20 * time.Millisecond, Logger: warnings()})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	// Every partition's last user has exited, with its receipt.
	last := map[int32]string{}
	for i := range instances {
		u := fmt.Sprintf("user-%05d", i)
		last[stream.PartitionFor([]byte(u), 3)] = u
	}
	deadline := time.Now().Add(5 * time.Minute)
	for u := range valuesOf(last) {
		inst := "inst-" + strconv.Itoa(atoiSuffix(u))
		for {
			var tl InstanceTimeline
			err := p.queryUser(u, func(part int32, v stream.View) error { return p.serveInstance(u, inst, part, v, &tl) })
			if err == nil && tl.Status == "exited" && len(tl.Entries) == 8 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("timeline of %s not complete within 5 minutes: %v %+v", u, err, tl)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	took, cpu := time.Since(start), processCPU()-cpu0
	b.Logf("%d records in %v: %.0f records/s, CPU %v (%.1f µs/record)", len(recs), took.Round(time.Millisecond), float64(len(recs))/took.Seconds(), cpu.Round(time.Millisecond), float64(cpu.Microseconds())/float64(len(recs)))
	return float64(len(recs)) / took.Seconds(), float64(cpu.Microseconds()) / float64(len(recs))
}

func valuesOf(m map[int32]string) map[string]bool {
	out := map[string]bool{}
	for _, v := range m {
		out[v] = true
	}
	return out
}

func atoiSuffix(u string) int {
	n, _ := strconv.Atoi(u[len("user-"):])
	return n
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// kafkaEnv is a deployment's topics on the test broker, a codec and a
// client.
type kafkaEnv struct {
	ctx     context.Context
	brokers []string
	layout  topics.Layout
	cd      *codec.Codec
	cl      *kgo.Client
}

func newKafkaEnv(t testing.TB, partitions int32) *kafkaEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	brokers := kafkatest.Brokers(t)
	layout, err := topics.Declare(topics.Options{Prefix: kafkatest.Prefix(t), Partitions: partitions, ReplicationFactor: 1})
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
	return &kafkaEnv{ctx: ctx, brokers: brokers, layout: layout, cd: cd, cl: cl}
}

func (k *kafkaEnv) topic(base string) string { s, _ := k.layout.Spec(base); return s.Name }

func warnings() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
