package simulate_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/sample"
	"github.com/beckon-dev/beckon/pkg/simulate"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// Simulation throughput, end to end: records produced once to the test
// broker (kfake in this process unless a real broker is configured),
// then the simulation reads and runs them b.N times. It reports events
// per second of wall time and per CPU-second of this process (on kfake
// that CPU includes the broker serving the fetches, so the per-core
// figure is conservative). docs/benchmarks.md records the figures.

// benchCartJourney is bench/cmd/enginebench's cart journey.
const benchCartJourney = `
id: cart
trigger: {event: Product Added, key: event.properties.cart_id}
state:
  - on: Product Added
    add_item: {key: event.properties.sku}
  - on: Product Removed
    remove_item: {key: event.properties.sku}
exit:
  - event: Order Completed
steps:
  - id: idle
    hold: {event: Checkout Started, timeout: 1h, reset_on: [Product Added, Product Removed], max_resets: 1000, on_event: exit}
  - id: remind
    send: {channel: email, template: cart-reminder}
`

// benchDeployment is a deployment's topics on the test broker.
type benchDeployment struct {
	brokers []string
	layout  topics.Layout
	cd      *codec.Codec
	cl      *kgo.Client
	recs    []*kgo.Record
}

func newBenchDeployment(b *testing.B, partitions int32) *benchDeployment {
	b.Helper()
	brokers := kafkatest.Brokers(b)
	layout, err := topics.Declare(topics.Options{Prefix: kafkatest.Prefix(b), Partitions: partitions, ReplicationFactor: 1, Facts: []string{"loyalty"}, Lookups: []string{"catalog"}})
	if err != nil {
		b.Fatal(err)
	}
	cl := kafkatest.Client(b, brokers, kgo.ProducerBatchMaxBytes(1<<20))
	if _, err := topics.Apply(context.Background(), cl, layout); err != nil {
		b.Fatal(err)
	}
	cd, err := codec.New()
	if err != nil {
		b.Fatal(err)
	}
	return &benchDeployment{brokers: brokers, layout: layout, cd: cd, cl: cl}
}

// add queues r for topic base, keyed and stamped.
func (d *benchDeployment) add(b *testing.B, base, key string, at time.Time, r records.Record) {
	topic := d.layout.Prefix + base
	v, err := d.cd.Encode(context.Background(), topic, r)
	if err != nil {
		b.Fatal(err)
	}
	d.recs = append(d.recs, &kgo.Record{Topic: topic, Key: []byte(key), Value: v, Timestamp: at})
	if len(d.recs) >= 20_000 {
		d.flush(b)
	}
}

func (d *benchDeployment) flush(b *testing.B) {
	if err := d.cl.ProduceSync(context.Background(), d.recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	d.recs = d.recs[:0]
}

// run simulates journey over [from, to) b.N times and reports the rates.
func (d *benchDeployment) run(b *testing.B, journey string, from, to time.Time) {
	d.flush(b)
	o := simulate.Options{Kafka: []kgo.Opt{kgo.SeedBrokers(d.brokers...)}, Layout: d.layout, Codec: d.cd, From: from, To: to}
	var events int64
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		rep, err := simulate.Run(context.Background(), []byte(journey), o)
		if err != nil {
			b.Fatal(err)
		}
		events = rep.Input.Events
		if b.N <= 3 {
			b.Logf("%d events of %d users: %d entered, %d sends, %d timers; %v", rep.Input.Events, rep.Input.Users, rep.Entered, sendCount(rep), rep.Input.Timers, time.Duration(rep.ElapsedMillis)*time.Millisecond)
		}
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	n := float64(events) * float64(b.N)
	b.ReportMetric(n/wall.Seconds(), "events/s")
	b.ReportMetric(n/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(events), "events/op")
}

func sendCount(r *simulate.Report) int64 {
	var n int64
	for _, s := range r.Sends {
		n += s.Count
	}
	return n
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkSimulateEngineTraffic simulates enginebench's traffic: cart
// events of users in turn (SIMBENCH_EVENTS, default 200,000, over
// SIMBENCH_USERS, default 10,000), one every 10 ms, through its cart
// journey, on 12 partitions.
func BenchmarkSimulateEngineTraffic(b *testing.B) {
	n, users := envInt("SIMBENCH_EVENTS", 200_000), envInt("SIMBENCH_USERS", 10_000)
	d := newBenchDeployment(b, 12)
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for u := range users {
		id := fmt.Sprintf("user-%07d", u)
		d.add(b, "profiles", id, t0, records.Profile{UserID: id, Addresses: records.Addresses{Email: id + "@example.com"},
			Consent: map[string]records.Consent{"email": {Status: records.ConsentSubscribed}}})
	}
	for i := range n {
		id, at := fmt.Sprintf("user-%07d", i%users), t0.Add(time.Duration(i)*10*time.Millisecond)
		d.add(b, "events", id, at, records.Event{MessageID: "m" + strconv.Itoa(i), Type: records.EventTrack, Name: "Product Added", UserID: id, Timestamp: at,
			Properties: records.JSON(fmt.Sprintf(`{"cart_id":"c%d","sku":"sku-%d","name":"Linen Shirt","price":59,"size":"M","colour":"blue","image":"https://shop.example.com/img/%d.jpg"}`, (i/users)%2, i%997, i%997))})
	}
	d.run(b, benchCartJourney, t0, t0.Add(time.Duration(n)*10*time.Millisecond+2*time.Hour))
}

// BenchmarkSimulateSampleShop simulates the abandoned-cart example over
// SIMBENCH_DAYS (default 1) of the sample shop's traffic at `beckon
// dev`'s defaults: 2 events a second from 25 shoppers, 172,800 events a
// day, 1,209,600 a week.
func BenchmarkSimulateSampleShop(b *testing.B) {
	days, users := envInt("SIMBENCH_DAYS", 1), envInt("SIMBENCH_USERS", 25)
	text, err := os.ReadFile("../../examples/journeys/abandoned-cart.yaml")
	if err != nil {
		b.Fatal(err)
	}
	d := newBenchDeployment(b, 12)
	shop := sample.NewShop(1, users)
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, r := range shop.Catalog(t0) {
		d.add(b, "lookups.catalog", r.ID, t0, r)
	}
	for _, p := range shop.Profiles(t0) {
		d.add(b, "profiles", p.UserID, t0, p)
	}
	for _, f := range shop.Facts(t0) {
		d.add(b, "facts.loyalty", f.UserID, t0, f)
	}
	tr := shop.Traffic()
	end := t0.Add(time.Duration(days) * 24 * time.Hour)
	for at := t0; at.Before(end); at = at.Add(500 * time.Millisecond) {
		ev := tr.Next(at)
		d.add(b, "events", ev.UserID, at, ev)
	}
	d.run(b, string(text), t0, end)
}
