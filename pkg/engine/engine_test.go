package engine_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/topics"
)

const cartJourney = `
id: abandoned-cart
trigger:
  event: Product Added
  key: event.properties.cart_id
state:
  - on: Product Added
    add_item: {key: event.properties.sku}
  - on: Product Removed
    remove_item: {key: event.properties.sku}
exit:
  - event: Order Completed
steps:
  - id: idle
    hold:
      event: Checkout Started
      timeout: 1h
      reset_on: [Product Added, Product Removed]
      on_event: exit
  - id: remind
    send:
      channel: email
      template: cart-reminder
      payload:
        items: state.items.map(i, i.key)
`

// clock is a virtual wall clock the test moves.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// harness is a deployment on the test broker: topics, a codec, the
// control plane and one running engine.
type harness struct {
	t       testing.TB
	group   string
	ctx     context.Context
	brokers []string
	layout  topics.Layout
	codec   *codec.Codec
	cl      *kgo.Client
	control *engine.Control
	clock   *clock
	engine  *engine.Engine
	done    chan error
}

func newHarness(t *testing.T) *harness { return newHarnessTB(t) }

func newHarnessTB(t testing.TB) *harness { return newHarnessPartitions(t, 3) }

// newHarnessPartitions is newHarnessTB with partitions partitions per
// user-keyed topic.
func newHarnessPartitions(t testing.TB, partitions int32) *harness {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	layout, err := topics.Declare(topics.Options{Prefix: kafkatest.Prefix(t), Partitions: partitions, ReplicationFactor: 1, Facts: []string{"loyalty"}, Lookups: []string{"products", "catalog"}})
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
	h := &harness{t: t, group: kafkatest.Prefix(t) + "engine", ctx: ctx, brokers: brokers, layout: layout, codec: cd, cl: cl, clock: &clock{}}
	h.clock.ns.Store(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).UnixNano())
	kopts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	channels := append([]string(nil), topics.Channels...)
	h.control = &engine.Control{Kafka: kopts, Topic: h.topic("journeys"), Codec: cd, Channels: channels, By: "test"}
	e, err := engine.New(engine.Config{
		Kafka: kopts, Topics: layout, Codec: cd, StateDir: t.TempDir(), InstanceID: "engine-1",
		Group:  h.group,
		Stream: stream.Options{Clock: h.clock.now, PollWait: 20 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.engine = e
	return h
}

func (h *harness) topic(base string) string {
	s, ok := h.layout.Spec(base)
	if !ok {
		h.t.Fatalf("no topic %s", base)
	}
	return s.Name
}

func (h *harness) start() {
	h.t.Helper()
	h.run()
	h.waitReady()
}

// run starts the engine without waiting for it to be ready.
func (h *harness) run() {
	h.t.Helper()
	h.done = make(chan error, 1)
	ctx, cancel := context.WithCancel(h.ctx)
	go func() { h.done <- h.engine.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		if err := <-h.done; err != nil {
			h.t.Error(err)
		}
	})
}

// waitReady waits until the engine is ready.
func (h *harness) waitReady() {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !h.engine.Ready() {
		if time.Now().After(deadline) {
			h.t.Fatal("engine not ready within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) produce(base string, key string, r records.Record) {
	h.t.Helper()
	b, err := h.codec.Encode(h.ctx, h.topic(base), r)
	if err != nil {
		h.t.Fatal(err)
	}
	h.produceRaw(base, key, b)
}

func (h *harness) produceRaw(base string, key string, value []byte) {
	h.t.Helper()
	if err := h.cl.ProduceSync(h.ctx, &kgo.Record{Topic: h.topic(base), Key: []byte(key), Value: value}).FirstErr(); err != nil {
		h.t.Fatal(err)
	}
}

var seq atomic.Int64

func (h *harness) event(user, name, props string) {
	h.t.Helper()
	h.produce("events", user, records.Event{
		MessageID: "m" + string(rune('0'+seq.Add(1)%10)) + time.Now().Format("150405.000000000"),
		Type:      records.EventTrack, Name: name, UserID: user, Timestamp: h.clock.now(), Properties: records.JSON(props),
	})
}

func (h *harness) profile(user string) {
	h.produce("profiles", user, records.Profile{
		UserID: user, Traits: records.JSON(`{"first_name":"Ada"}`), Addresses: records.Addresses{Email: user + "@example.com"},
		Consent: map[string]records.Consent{"email": {Status: records.ConsentSubscribed}},
	})
}

// reader collects a topic's records read_committed.
type reader struct {
	mu   sync.Mutex
	recs []*kgo.Record
}

func (h *harness) read(base string) *reader {
	cl := kafkatest.Client(h.t, h.brokers, kgo.ConsumeTopics(h.topic(base)), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	r := &reader{}
	go func() {
		for {
			fs := cl.PollFetches(h.ctx)
			if h.ctx.Err() != nil || fs.IsClientClosed() {
				return
			}
			r.mu.Lock()
			r.recs = append(r.recs, fs.Records()...)
			r.mu.Unlock()
		}
	}()
	return r
}

// wait polls until cond holds for the records read so far.
func (r *reader) wait(t *testing.T, what string, cond func([]*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.mu.Lock()
		recs := append([]*kgo.Record(nil), r.recs...)
		r.mu.Unlock()
		if cond(recs) {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (%d records)", what, len(recs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) activities(recs []*kgo.Record) []records.Activity {
	var out []records.Activity
	for _, r := range recs {
		var a records.Activity
		if err := h.codec.Decode(h.ctx, r.Value, &a); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func countKind(acts []records.Activity, kind records.ActivityKind, reason string) int {
	n := 0
	for _, a := range acts {
		if a.Kind == kind && strings.Contains(a.Reason, reason) {
			n++
		}
	}
	return n
}

// TestAbandonedCartThroughTheEngine: a published journey, a profile and
// events go in; the reminder for the abandoned cart (and only that one)
// comes out on send.email once its timer fires, with the cart's items.
func TestAbandonedCartThroughTheEngine(t *testing.T) {
	h := newHarness(t)
	if _, err := h.control.Publish(h.ctx, []byte(cartJourney), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	h.profile("u1")
	h.start()
	activity := h.read("activity")
	sends := h.read("send.email")

	h.event("u1", "Product Added", `{"cart_id":"c1","sku":"A"}`)
	h.event("u1", "Product Added", `{"cart_id":"c2","sku":"B"}`)
	h.event("u1", "Product Added", `{"cart_id":"c2","sku":"C"}`)
	h.event("u1", "Order Completed", `{"cart_id":"c1"}`)
	activity.wait(t, "both carts entered and c1 exited", func(recs []*kgo.Record) bool {
		acts := h.activities(recs)
		return countKind(acts, records.ActivityEntered, "") == 2 && countKind(acts, records.ActivityExited, "Order Completed") == 1
	})
	h.clock.advance(2 * time.Hour)
	recs := sends.wait(t, "the reminder", func(recs []*kgo.Record) bool { return len(recs) >= 1 })
	time.Sleep(300 * time.Millisecond) // nothing more may come
	sends.mu.Lock()
	if len(sends.recs) != 1 {
		t.Fatalf("%d send commands, want 1", len(sends.recs))
	}
	sends.mu.Unlock()
	var cmd records.SendCommand
	if err := h.codec.Decode(h.ctx, recs[0].Value, &cmd); err != nil {
		t.Fatal(err)
	}
	var payload map[string]any
	_ = json.Unmarshal(cmd.Payload, &payload)
	if items, _ := json.Marshal(payload["items"]); string(items) != `["B","C"]` {
		t.Errorf("reminder items %s, want [B C]", items)
	}
	if cmd.Recipient != "u1@example.com" || string(recs[0].Key) != "u1" || cmd.CommandID == "" || cmd.JourneyID != "abandoned-cart" {
		t.Errorf("command %+v key %q", cmd, recs[0].Key)
	}
}

// TestUndecodableEventGoesToDLQ: garbage on the events topic is
// dead-lettered with the reason and the engine goes on.
func TestUndecodableEventGoesToDLQ(t *testing.T) {
	h := newHarness(t)
	if _, err := h.control.Publish(h.ctx, []byte(cartJourney), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	h.profile("u1")
	h.start()
	dlq := h.read("dlq")
	activity := h.read("activity")
	h.produceRaw("events", "u1", []byte("not avro"))
	h.event("u1", "Product Added", `{"cart_id":"c1","sku":"A"}`)
	recs := dlq.wait(t, "the dead letter", func(recs []*kgo.Record) bool { return len(recs) == 1 })
	if reason := dlqReason(recs[0]); !strings.Contains(reason, "decode event") {
		t.Errorf("dead-letter reason %q", reason)
	}
	activity.wait(t, "the next event processed", func(recs []*kgo.Record) bool {
		return countKind(h.activities(recs), records.ActivityEntered, "") == 1
	})
}

// TestSendEnrichedFromTables: catalog rows (a global lookup table) joined
// to the cart's items by SKU and the loyalty points from a facts table
// reach the send command's payload.
func TestSendEnrichedFromTables(t *testing.T) {
	h := newHarness(t)
	const journeyYAML = `
id: cart-now
trigger: {event: Product Added, key: event.properties.cart_id}
state:
  - on: Product Added
    add_item: {key: event.properties.sku, value: '{"size": event.properties.size}'}
steps:
  - id: remind
    send:
      channel: email
      template: cart
      lookups:
        - {name: products, table: products, keys: 'state.items.map(i, i.key)'}
      payload:
        items: 'state.items.map(i, {"sku": i.key, "size": i.value.size, "name": lookups.products[i.key].name, "price": lookups.products[i.key].price})'
        points: facts.loyalty.points
`
	if _, err := h.control.Publish(h.ctx, []byte(journeyYAML), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	h.profile("u1")
	h.produce("lookups.products", "SKU-1", records.LookupRecord{Table: "products", ID: "SKU-1", Attributes: records.JSON(`{"name":"Linen Shirt","price":59,"image":"https://shop.example.com/1.jpg"}`)})
	h.produce("facts.loyalty", "u1", records.Fact{UserID: "u1", Name: "loyalty", Value: records.JSON(`{"tier":"gold","points":1200}`)})
	h.start()
	sends := h.read("send.email")
	h.event("u1", "Product Added", `{"cart_id":"c1","sku":"SKU-1","size":"M"}`)
	recs := sends.wait(t, "the enriched send", func(recs []*kgo.Record) bool { return len(recs) == 1 })
	var cmd records.SendCommand
	if err := h.codec.Decode(h.ctx, recs[0].Value, &cmd); err != nil {
		t.Fatal(err)
	}
	if got := string(cmd.Payload); got != `{"items":[{"name":"Linen Shirt","price":59,"size":"M","sku":"SKU-1"}],"points":1200}` {
		t.Errorf("payload %s", got)
	}
}

// dlqReason is the reason header of a dead-lettered record.
func dlqReason(r *kgo.Record) string {
	for _, hd := range r.Headers {
		if hd.Key == stream.HeaderDLQReason {
			return string(hd.Value)
		}
	}
	return ""
}
