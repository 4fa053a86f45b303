package engine_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
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

// startTimelines runs a timeline processor (instance name) in the group
// beside h's engine group, as the engine service does with --timelines,
// advertising addr, and waits until it owns and has restored what it
// has been given.
func (h *harness) startTimelines(name, addr string) (*timeline.Processor, context.CancelFunc, chan error) {
	h.t.Helper()
	tp, err := timeline.New(timeline.Config{Topics: h.layout, Codec: h.codec, Group: timeline.GroupBeside(h.group), QueryAddr: addr,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() {
		done <- tp.Run(ctx, stream.Options{Kafka: []kgo.Opt{kgo.SeedBrokers(h.brokers...)}, StateDir: h.t.TempDir(), InstanceID: name,
			Clock: h.clock.now, PollWait: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	}()
	h.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Error(err)
		}
	})
	return tp, cancel, done
}

// waitTimeline polls the timeline processor's query handler until the instance's
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

// TestAbandonedCartTimeline: the timeline processor's timeline of an abandoned
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
	tp, _, _ := h.startTimelines("timelines-1", "")
	waitFor(t, "the timeline processor to be ready", func() bool { return tp.Ready() })
	q := tp.QueryHandler()

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

// waitFor polls cond until it holds, for up to 60 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 60s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTimelineCatchesUp: the timeline processor follows the engine's
// output, so it may lag, never lose: what the engine did while no
// timeline processor ran (stopped, crashed, upgraded) is in the
// timelines once one runs again, restored from the changelog and read
// on from the committed offsets. It logs how far behind the engine a
// running processor shows an event.
func TestTimelineCatchesUp(t *testing.T) {
	h := newHarness(t)
	if _, err := h.control.Publish(h.ctx, []byte(cartJourney), records.FormatYAML); err != nil {
		t.Fatal(err)
	}
	h.start()
	first, stop, done := h.startTimelines("timelines-1", "")
	waitFor(t, "the first timeline processor to be ready", first.Ready)
	entered := func(q http.Handler, user string) bool {
		var ui timeline.UserInstances
		return getJSON(t, q, "/v1/users/"+user+"/instances", &ui) == http.StatusOK && len(ui.Instances) == 1
	}
	// Lag while it runs: an event's entry shows within this much.
	start := time.Now()
	h.event("early", "Product Added", `{"cart_id":"c0","sku":"A"}`)
	waitFor(t, "the early user's instance", func() bool { return entered(first.QueryHandler(), "early") })
	t.Logf("event produced to timeline shown: %v", time.Since(start))
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil // for the cleanup

	// The engine goes on alone.
	acts := h.read("activity")
	var users []string
	for i := range 20 {
		u := "late-" + strconv.Itoa(i)
		users = append(users, u)
		h.event(u, "Product Added", `{"cart_id":"c0","sku":"A"}`)
	}
	acts.wait(t, "the engine to apply every event", func(recs []*kgo.Record) bool {
		return countKind(h.activities(recs), records.ActivityEntered, "") >= 21
	})

	// Another processor instance, with an empty state directory, takes
	// over: the early user from the changelog, the others from the
	// topics.
	second, _, _ := h.startTimelines("timelines-2", "")
	waitFor(t, "the second timeline processor to be ready", second.Ready)
	caught := time.Now()
	for _, u := range append(users, "early") {
		waitFor(t, "the timeline of "+u, func() bool { return entered(second.QueryHandler(), u) })
	}
	t.Logf("caught up on 20 users in %v", time.Since(caught))
}
