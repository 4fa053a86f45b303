package journeymetrics

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/examples"
	"github.com/beckon-dev/beckon/pkg/engine"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
	"github.com/beckon-dev/beckon/pkg/topics"
)

// TestAbandonedCartCounts runs the abandoned-cart example through the
// engine and the metrics processor: a shopper adds a product (entered),
// adds another within the hour (the hold resets), the email reminder goes
// out an hour later (sent), the shopper opens it (opened) and orders
// (converted, and the instance exits as converted). The counts, per
// journey, version, step and hour, say exactly that.
func TestAbandonedCartCounts(t *testing.T) {
	e := newEnv(t, 3, topics.Options{Facts: []string{"loyalty"}, Lookups: []string{"catalog"}})
	// Journey time: yesterday 10:00 UTC, outside the example's quiet
	// hours and inside the hourly retention.
	var now atomic.Int64
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-14 * time.Hour)
	now.Store(start.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()).UTC() }
	at := func(d time.Duration) { now.Store(start.Add(d).UnixNano()) }

	all, err := examples.Journeys()
	if err != nil {
		t.Fatal(err)
	}
	control := &engine.Control{Kafka: e.kafka(), Topic: e.topic("journeys"), Codec: e.codec, Channels: topics.Channels, By: "test"}
	for _, x := range all {
		if x.Name == "abandoned-cart" {
			if _, err := control.Publish(e.ctx, x.YAML, records.FormatYAML); err != nil {
				t.Fatal(err)
			}
		}
	}
	eng, err := engine.New(engine.Config{Kafka: e.kafka(), Topics: e.layout, Codec: e.codec, StateDir: t.TempDir(), InstanceID: "engine-1",
		Group: e.prefix + "engine", Stream: stream.Options{Clock: clock, PollWait: 20 * time.Millisecond}, Logger: e.logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	waitFor(t, "the engine to be ready", eng.Ready)
	p, err := New(Config{Topics: e.layout, Codec: e.codec, Group: e.prefix + "metrics"})
	if err != nil {
		t.Fatal(err)
	}
	e.runGroup(p.Group(), stream.Options{InstanceID: "metrics-1", StateDir: t.TempDir()})
	r := e.follow()

	e.produce("profiles", "u1", records.Profile{UserID: "u1", Traits: records.JSON(`{"first_name":"Ada"}`), Addresses: records.Addresses{Email: "u1@example.com"},
		Consent: map[string]records.Consent{"email": {Status: records.ConsentSubscribed}}})
	event := func(name, props string) {
		e.produce("events", "u1", records.Event{MessageID: name + clock().String(), Type: records.EventTrack, Name: name, UserID: "u1", Timestamp: clock(), Properties: records.JSON(props)})
	}
	event("Product Added", `{"cart_id":"c1","sku":"SH-01","name":"Linen shirt","price":49.9,"quantity":1}`)
	waitFor(t, "the entry to be counted", func() bool {
		rep, err := r.Journey("abandoned-cart", Query{})
		return err == nil && rep.Totals.Entered == 1
	})
	at(30 * time.Minute)
	event("Product Added", `{"cart_id":"c1","sku":"HT-03","name":"Straw hat","price":25,"quantity":1}`)
	// The reset is no count: wait for its activity before moving the
	// clock on, or the engine would reset the hold later.
	acts := kafkatest.Client(t, e.brokers, kgo.ConsumeTopics(e.topic("activity")), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	actx, acancel := context.WithTimeout(e.ctx, 60*time.Second)
	defer acancel()
	for reset := false; !reset; {
		fs := acts.PollFetches(actx)
		if err := actx.Err(); err != nil {
			t.Fatal("no reset within 60s")
		}
		for _, rec := range fs.Records() {
			var a records.Activity
			if err := e.codec.Decode(e.ctx, rec.Value, &a); err != nil {
				t.Fatal(err)
			}
			reset = reset || (a.Kind == records.ActivityWaiting && strings.HasPrefix(a.Reason, "timer reset by Product Added"))
		}
	}

	// The email goes out an hour after the second product.
	sends := kafkatest.Client(t, e.brokers, kgo.ConsumeTopics(e.topic("send.email")), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	at(91 * time.Minute)
	fctx, fcancel := context.WithTimeout(e.ctx, 60*time.Second)
	defer fcancel()
	var cmd records.SendCommand
	for cmd.CommandID == "" {
		fs := sends.PollFetches(fctx)
		if err := fctx.Err(); err != nil {
			rep, _ := r.Journey("abandoned-cart", Query{})
			t.Fatalf("no email sent within 60s; counts %+v", rep)
		}
		for _, rec := range fs.Records() {
			if err := e.codec.Decode(e.ctx, rec.Value, &cmd); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cmd.StepID != "email-reminder" || cmd.JourneyVersion != 1 {
		t.Fatalf("send %+v: want the email-reminder of version 1", cmd)
	}
	at(100 * time.Minute)
	e.produce("receipts", "u1", records.Receipt{ReceiptID: "r-open", CommandID: cmd.CommandID, UserID: "u1", Channel: "email", Status: records.ReceiptOpened, OccurredAt: clock()})
	at(2 * time.Hour)
	event("Order Completed", `{"cart_id":"c1","order_id":"o-1","total":74.9}`)

	var rep Report
	waitFor(t, "the conversion and the open to be counted", func() bool {
		rep, err = r.Journey("abandoned-cart", Query{})
		return err == nil && rep.Totals.Converted == 1 && rep.Totals.Opened == 1 && rep.Totals.Exited["converted"] == 1
	})
	tot := rep.Totals
	if tot.Entered != 1 || tot.Active != 0 || tot.Sent != 1 || tot.Delivered != 0 || len(tot.Exited) != 1 || len(tot.Skipped) != 0 || tot.Errors != 0 {
		t.Errorf("totals %+v: want 1 entered, 1 sent, 1 opened, 1 converted, 1 exited as converted, none active", tot)
	}
	if len(rep.Versions) != 1 || rep.Versions[0].Version != 1 || rep.Versions[0].Totals.Converted != 1 {
		t.Errorf("versions %+v: want version 1 alone", rep.Versions)
	}
	steps := map[string]Counts{}
	for _, s := range rep.Steps {
		steps[s.Step] = s.Counts
	}
	if c := steps["idle-for-an-hour"]; c.Entered != 1 || c.Active != 0 {
		t.Errorf("idle-for-an-hour %+v: want the entry, no longer active", c)
	}
	if c := steps["email-reminder"]; c.Sent != 1 || c.Opened != 1 {
		t.Errorf("email-reminder %+v: want the send and its open", c)
	}
	// The order came while the instance waited a day after the email.
	if c := steps["wait-a-day"]; c.Converted != 1 || c.Exited["converted"] != 1 || c.Active != 0 {
		t.Errorf("wait-a-day %+v: want the conversion and the exit", c)
	}
	hours := map[time.Duration]Counts{}
	for _, h := range rep.Hourly {
		hours[h.Hour.Sub(start)] = h.Counts
	}
	if len(hours) != 3 || hours[0].Entered != 1 || hours[time.Hour].Sent != 1 || hours[time.Hour].Opened != 1 || hours[2*time.Hour].Converted != 1 {
		t.Errorf("hourly %+v: want entered at +0h, sent and opened at +1h, converted at +2h", rep.Hourly)
	}
	h, err := r.JourneyCounts(e.ctx, "abandoned-cart")
	if err != nil || h != (Headline{Entered: 1, Sent: 1, Opened: 1, Converted: 1}) {
		t.Errorf("headline %+v, %v", h, err)
	}
}
