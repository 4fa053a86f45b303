package engine_test

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

const bigSpender = `
id: big-spender
trigger:
  event: Order Completed
  when: event.properties.total > 100
steps:
  - id: thanks
    send: {channel: email, template: thanks}
`

// TestBadInputThroughTheEngine: an event with neither user ID nor key is
// dead-lettered with the reason (it has no key); a property of the wrong type in a
// condition and an event for a paused journey are recorded in activity;
// the partition goes on to the next, valid event.
func TestBadInputThroughTheEngine(t *testing.T) {
	h := newHarness(t)
	if _, err := h.control.Publish(h.ctx, []byte(bigSpender), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	if _, err := h.control.Publish(h.ctx, []byte(cartJourney), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	if err := h.control.SetState(h.ctx, "abandoned-cart", records.JourneyPaused); err != nil {
		t.Fatal(err)
	}
	h.profile("u1")
	h.start()
	dlq := h.read("dlq")
	activity := h.read("activity")
	sends := h.read("send.email")

	h.produce("events", "", records.Event{MessageID: "nouser", Type: records.EventTrack, Name: "Order Completed", Timestamp: h.clock.now(), Properties: records.JSON(`{"total":500}`)})
	h.event("u1", "Order Completed", `{"total":"a lot"}`)
	h.event("u1", "Product Added", `{"cart_id":"c1","sku":"A"}`)
	h.event("u1", "Order Completed", `{"total":150}`)

	recs := dlq.wait(t, "the event without a user", func(recs []*kgo.Record) bool { return len(recs) == 1 })
	if reason := dlqReason(recs[0]); !strings.Contains(reason, stream.ReasonNoKey) {
		t.Errorf("dead-letter reason %q", reason)
	}
	activity.wait(t, "the error and the paused skip", func(recs []*kgo.Record) bool {
		acts := h.activities(recs)
		return countKind(acts, records.ActivityError, "trigger.when") == 1 && countKind(acts, records.ActivitySkipped, "journey paused") == 1
	})
	sends.wait(t, "the valid order's thank-you", func(recs []*kgo.Record) bool { return len(recs) == 1 })
}

// TestBadTableAndReceiptInput: a profile with a malformed address, a
// catalog row without the price a payload reads, and a receipt for a
// command no instance sent each leave a clear activity; the engine goes on.
func TestBadTableAndReceiptInput(t *testing.T) {
	h := newHarness(t)
	const journeyYAML = `
id: priced
trigger: {event: Product Added, key: event.properties.cart_id}
state:
  - on: Product Added
    add_item: {key: event.properties.sku}
steps:
  - id: remind
    send:
      channel: email
      template: cart
      lookups:
        - {name: products, table: catalog, keys: 'state.items.map(i, i.key)'}
      payload:
        total: 'state.items.map(i, lookups.products[i.key].price)'
`
	if _, err := h.control.Publish(h.ctx, []byte(journeyYAML), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	h.produce("profiles", "bad", records.Profile{UserID: "bad", Addresses: records.Addresses{Email: "not an address"},
		Consent: map[string]records.Consent{"email": {Status: records.ConsentSubscribed}}})
	h.profile("u1")
	h.produce("lookups.catalog", "NOPRICE", records.LookupRecord{Table: "catalog", ID: "NOPRICE", Attributes: records.JSON(`{"name":"Mystery box"}`)})
	h.start()
	activity := h.read("activity")
	sends := h.read("send.email")

	h.event("bad", "Product Added", `{"cart_id":"c1","sku":"NOPRICE"}`)
	h.event("u1", "Product Added", `{"cart_id":"c2","sku":"NOPRICE"}`)
	h.produce("receipts", "u1", records.Receipt{ReceiptID: "r-unknown", CommandID: "nobody/sent/1", UserID: "u1", Channel: "email", Status: records.ReceiptDelivered, OccurredAt: h.clock.now()})
	activity.wait(t, "the three bad inputs recorded", func(recs []*kgo.Record) bool {
		acts := h.activities(recs)
		return countKind(acts, records.ActivitySkipped, "invalid_address") == 1 &&
			countKind(acts, records.ActivityError, "no such key: price") == 1 &&
			countKind(acts, records.ActivitySkipped, "which no running instance sent") == 1
	})
	sends.mu.Lock()
	defer sends.mu.Unlock()
	if len(sends.recs) != 0 {
		t.Fatalf("%d sends, want none", len(sends.recs))
	}
}
