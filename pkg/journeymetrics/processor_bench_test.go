package journeymetrics

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// BenchmarkProcessorThroughput counts a backlog of journey activity
// (entered, sent, delivered, exited per instance: four records, eight to
// ten counts each) through the runtime on 3 partitions, and reports the
// input records counted per second, from the processor's start to the
// reader showing the last count.
func BenchmarkProcessorThroughput(b *testing.B) {
	var rate float64
	for range b.N {
		b.StopTimer()
		rate += countBacklog(b)
		b.StartTimer()
	}
	b.ReportMetric(rate/float64(b.N), "records/s")
}

// countBacklog produces the backlog to fresh topics and returns the rate
// at which a new processor counts it.
func countBacklog(b *testing.B) float64 {
	const instances = 5000
	e := newEnv(b, 3, topics.Options{})
	var recs []*kgo.Record
	enc := func(base, key string, r records.Record) {
		v, err := e.codec.Encode(e.ctx, e.topic(base), r)
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: e.topic(base), Key: []byte(key), Value: v})
	}
	at := time.Now().UTC().Add(-time.Hour)
	for i := range instances {
		user, inst, cmd := fmt.Sprintf("user-%05d", i), "inst-"+strconv.Itoa(i), "cmd-"+strconv.Itoa(i)
		act := func(kind records.ActivityKind, step, reason, details string) {
			enc("activity", user, records.Activity{ActivityID: inst + string(kind), InstanceID: inst, JourneyID: "j", JourneyVersion: 1, UserID: user,
				StepID: step, Kind: kind, Reason: reason, At: at, Details: records.JSON(details)})
		}
		act(records.ActivityEntered, "wait", "", "")
		act(records.ActivitySent, "email", "", `{"command_id":"`+cmd+`"}`)
		enc("receipts", user, records.Receipt{ReceiptID: cmd, CommandID: cmd, UserID: user, Channel: "email", Status: records.ReceiptDelivered, OccurredAt: at})
		act(records.ActivityExited, "email", "completed", "")
	}
	if err := e.cl.ProduceSync(e.ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	r := e.follow()
	p, err := New(Config{Topics: e.layout, Codec: e.codec, Group: e.prefix + "metrics"})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	stop := e.runGroup(p.Group(), stream.Options{InstanceID: "a", StateDir: b.TempDir()})
	defer stop()
	waitFor(b, "every exit counted", func() bool {
		rep, err := r.Journey("j", Query{})
		return err == nil && rep.Totals.Exited["completed"] == instances && rep.Totals.Delivered == instances
	})
	return float64(len(recs)) / time.Since(start).Seconds()
}
