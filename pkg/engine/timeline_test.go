package engine_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/timeline"
)

// getJSON asks h for path and decodes a 200 answer into v; it returns the
// status.
func getJSON(t *testing.T, h http.Handler, path string, v any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, rec.Body)
		}
	}
	return rec.Code
}

// waitTimeline polls the engine's query handler until the instance's
// timeline satisfies cond.
func waitTimeline(t *testing.T, h http.Handler, user, instance string, cond func(timeline.InstanceTimeline) bool) timeline.InstanceTimeline {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var tl timeline.InstanceTimeline
		code := getJSON(t, h, "/v1/users/"+url.PathEscape(user)+"/instances/"+url.PathEscape(instance), &tl)
		if code == http.StatusOK && cond(tl) {
			return tl
		}
		if time.Now().After(deadline) {
			t.Fatalf("timeline of %s not as expected within 20s (last status %d): %+v", instance, code, tl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasEntry(tl timeline.InstanceTimeline, kind, reason string) bool {
	return slices.ContainsFunc(tl.Entries, func(e timeline.Entry) bool { return e.Kind == kind && strings.Contains(e.Reason, reason) })
}

// TestAbandonedCartTimeline: the engine's own timeline of an abandoned
// cart holds the entry with its trigger event, the hold reset by the
// second Product Added, the hold timing out on the timer, the send with
// its payload, the exit and its reason, and a receipt that came after
// the exit; the user's instance list has both carts.
func TestAbandonedCartTimeline(t *testing.T) {
	h := newHarness(t)
	if _, err := h.control.Publish(h.ctx, []byte(cartJourney), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	h.profile("u1")
	h.start()
	q := h.engine.QueryHandler()

	h.event("u1", "Product Added", `{"cart_id":"c1","sku":"A"}`)
	h.event("u1", "Product Added", `{"cart_id":"c2","sku":"B"}`)
	h.event("u1", "Product Added", `{"cart_id":"c2","sku":"C"}`)
	h.event("u1", "Order Completed", `{"cart_id":"c1"}`)
	// The instance list: both carts, c1 exited by its order.
	var list timeline.UserInstances
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code := getJSON(t, q, "/v1/users/u1/instances", &list); code == http.StatusOK && len(list.Instances) == 2 &&
			slices.ContainsFunc(list.Instances, func(in timeline.Instance) bool { return in.EntryKey == "c1" && in.Status == "exited" }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instances of u1: %+v", list)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var c1, c2 timeline.Instance
	for _, in := range list.Instances {
		switch in.EntryKey {
		case "c1":
			c1 = in
		case "c2":
			c2 = in
		}
	}
	if c1.ExitReason != "exit event Order Completed" || c2.Status != "active" || c2.Step != "idle" || c1.UserID != "u1" || c1.JourneyID != "abandoned-cart" {
		t.Errorf("instances %+v", list.Instances)
	}
	if u, id, err := timeline.ParseRef(c2.ID); err != nil || u != "u1" || id != c2.InstanceID {
		t.Errorf("reference %q: %q %q %v", c2.ID, u, id, err)
	}

	// The hold was reset by the second Product Added of c2.
	tl := waitTimeline(t, q, "u1", c2.InstanceID, func(tl timeline.InstanceTimeline) bool {
		return hasEntry(tl, "waiting", "timer reset by Product Added")
	})
	if tl.Entries[0].Kind != "entered" || tl.Entries[0].Input == nil || tl.Entries[0].Input.Type != "event" || tl.Entries[0].Input.Name != "Product Added" {
		t.Errorf("first entry %+v", tl.Entries[0])
	}

	// The hold times out: the reminder is sent with the cart's items and
	// the instance ends.
	h.clock.advance(2 * time.Hour)
	tl = waitTimeline(t, q, "u1", c2.InstanceID, func(tl timeline.InstanceTimeline) bool { return tl.Status == "exited" })
	var sent *timeline.Entry
	for i := range tl.Entries {
		if tl.Entries[i].Kind == "sent" {
			sent = &tl.Entries[i]
		}
	}
	if sent == nil || sent.Send == nil {
		t.Fatalf("no send in %+v", tl.Entries)
	}
	var payload struct{ Items []string }
	if err := json.Unmarshal(sent.Send.Payload, &payload); err != nil || !slices.Equal(payload.Items, []string{"B", "C"}) {
		t.Errorf("send payload %s (%v)", sent.Send.Payload, err)
	}
	if sent.Send.Channel != "email" || sent.Send.Template != "cart-reminder" || sent.Send.Recipient != "u1@example.com" || sent.Send.CommandID == "" || sent.Input == nil || sent.Input.Type != "timer" {
		t.Errorf("sent entry %+v send %+v", sent, sent.Send)
	}
	if !hasEntry(tl, "step_completed", "hold timed out") || tl.ExitReason == "" || tl.Entries[len(tl.Entries)-1].Kind != "exited" {
		t.Errorf("timeline %+v", tl)
	}
	for i := 1; i < len(tl.Entries); i++ {
		if tl.Entries[i].Seq <= tl.Entries[i-1].Seq {
			t.Errorf("entries out of order: %+v", tl.Entries)
		}
	}

	// A receipt of the reminder after the instance ended moves nothing but
	// is part of its timeline.
	h.produce("receipts", "u1", records.Receipt{ReceiptID: "r1", CommandID: sent.Send.CommandID, UserID: "u1", Channel: "email", Status: records.ReceiptOpened, OccurredAt: h.clock.now()})
	tl = waitTimeline(t, q, "u1", c2.InstanceID, func(tl timeline.InstanceTimeline) bool { return hasEntry(tl, "receipt", "") })
	last := tl.Entries[len(tl.Entries)-1]
	if last.Kind != "receipt" || last.Receipt == nil || last.Receipt.Status != "opened" || last.Receipt.CommandID != sent.Send.CommandID {
		t.Errorf("receipt entry %+v", last)
	}

	// An unknown instance is not found; a user without a timeline has no
	// instances.
	if code := getJSON(t, q, "/v1/users/u1/instances/nope", &tl); code != http.StatusNotFound {
		t.Errorf("unknown instance: %d", code)
	}
	var none timeline.UserInstances
	if code := getJSON(t, q, "/v1/users/nobody/instances", &none); code != http.StatusOK || len(none.Instances) != 0 {
		t.Errorf("user without a timeline: %d %+v", code, none)
	}
}
