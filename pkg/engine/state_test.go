package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/beckon-dev/beckon/pkg/journey"
	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// The user's state is stored split: a head under the user's key and each
// instance under its own, so an event rewrites only what it touched. State
// stored whole, before the split, still reads and behaves the same.

const holdCartJourney = `
id: cart
trigger: {event: Product Added, key: event.properties.cart_id}
state:
  - on: Product Added
    add_item: {key: event.properties.sku}
exit:
  - event: Order Completed
steps:
  - id: idle
    hold: {event: Checkout Started, timeout: 1h, reset_on: [Product Added], max_resets: 1000, on_event: exit}
  - id: remind
    send: {channel: email, template: cart-reminder}
`

func (r *seamRig) mustHandle(m stream.Message) {
	r.t.Helper()
	if err := r.p.handle(r.e, m); err != nil {
		r.t.Fatal(err)
	}
}

// user reads u1's stored state as the engine does.
func (r *seamRig) user() *journey.User {
	r.t.Helper()
	u, _, err := r.e.loadUser(r.p, "u1", nil)
	if err != nil {
		r.t.Fatal(err)
	}
	return u
}

func TestStateEventRewritesOnlyItsInstance(t *testing.T) {
	r := newSeamRig(t, holdCartJourney)
	r.mustHandle(r.event("m1", "Product Added", `{"cart_id":"c0","sku":"A"}`))
	r.mustHandle(r.event("m2", "Product Added", `{"cart_id":"c1","sku":"B"}`))
	u := r.user()
	if len(u.Instances) != 2 {
		t.Fatalf("%d instances, want 2", len(u.Instances))
	}
	var c1 string
	for _, inst := range u.Instances {
		if inst.EntryKey == "c1" {
			c1 = inst.ID
		}
		if _, ok := r.p.state[string(instanceKey("u1", inst.ID))]; !ok {
			t.Fatalf("instance %s (%s) not stored under its own key", inst.ID, inst.EntryKey)
		}
	}
	r.p.sets = nil
	r.mustHandle(r.event("m3", "Product Added", `{"cart_id":"c1","sku":"C"}`))
	want := []string{string(instanceKey("u1", c1)), "u1"}
	if !reflect.DeepEqual(r.p.sets, want) {
		t.Fatalf("state writes %q, want only cart c1's instance and the head %q", r.p.sets, want)
	}
	// Cart c1's order ends its instance: its record goes with it, c0's
	// stays.
	r.mustHandle(r.event("m4", "Order Completed", `{"cart_id":"c1"}`))
	var left []string
	for k := range r.p.state {
		if strings.HasPrefix(k, "u1\x00") {
			left = append(left, k)
		}
	}
	if c0 := r.user().Instances; len(c0) != 1 || c0[0].EntryKey != "c0" || !reflect.DeepEqual(left, []string{string(instanceKey("u1", c0[0].ID))}) {
		t.Fatalf("after c1's order: instance records %q", left)
	}
}

// An event reads only the instances it can touch: cart c1's event reads
// the head and c1's record, and leaves c0's unread and unwritten; an
// event no rule names reads no instance; a timer reads its own.
func TestStateEventReadsOnlyItsInstance(t *testing.T) {
	r := newSeamRig(t, holdCartJourney)
	r.mustHandle(r.event("m1", "Product Added", `{"cart_id":"c0","sku":"A"}`))
	r.mustHandle(r.event("m2", "Product Added", `{"cart_id":"c1","sku":"B"}`))
	ids := map[string]string{}
	for _, inst := range r.user().Instances {
		ids[inst.EntryKey] = inst.ID
	}
	stateGets := func() []string {
		var out []string
		for _, k := range r.p.gets {
			if k == "u1" || strings.HasPrefix(k, "u1\x00") {
				out = append(out, k)
			}
		}
		r.p.gets, r.p.sets = nil, nil
		return out
	}
	stateGets()
	r.mustHandle(r.event("m3", "Product Added", `{"cart_id":"c1","sku":"C"}`))
	if got, want := stateGets(), []string{"u1", string(instanceKey("u1", ids["c1"]))}; !reflect.DeepEqual(got, want) {
		t.Fatalf("cart c1's event read %q, want the head and c1's instance %q", got, want)
	}
	r.mustHandle(r.event("m4", "Page Viewed", `{"cart_id":"c1"}`))
	if got, want := stateGets(), []string{"u1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("an event no rule names read %q, want only the head", got)
	}
	r.mustHandle(stream.Message{Kind: stream.KindTimer, Key: timerKey("u1", ids["c0"])})
	if got, want := stateGets(), []string{"u1", string(instanceKey("u1", ids["c0"]))}; !reflect.DeepEqual(got, want) {
		t.Fatalf("c0's timer read %q, want the head and c0's instance %q", got, want)
	}
	u := r.user()
	if len(u.Instances) != 2 || u.Instances[0].Stub() || u.Instances[1].Stub() {
		t.Fatalf("after the events: %d instances, want both carts, loaded", len(u.Instances))
	}
	for _, inst := range u.Instances {
		want := map[string]int{"c0": 1, "c1": 2}[inst.EntryKey]
		if len(inst.Items) != want {
			t.Errorf("cart %s: %d items, want %d", inst.EntryKey, len(inst.Items), want)
		}
	}
}

func TestStateStoredWholeStillReads(t *testing.T) {
	events := []stream.Message{}
	split, whole := newSeamRig(t, holdCartJourney), newSeamRig(t, holdCartJourney)
	events = append(events,
		split.event("m1", "Product Added", `{"cart_id":"c0","sku":"A"}`),
		split.event("m2", "Product Added", `{"cart_id":"c1","sku":"B"}`))
	for _, m := range events {
		split.mustHandle(m)
		whole.mustHandle(m)
	}
	// Rewrite whole's state in the form stored before the split (format
	// 2, the whole user under the user's key).
	u := whole.user()
	b, err := u.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for k := range whole.p.state {
		if strings.HasPrefix(k, "u1\x00") {
			delete(whole.p.state, k)
		}
	}
	whole.p.state["u1"] = b
	if got := whole.user(); !reflect.DeepEqual(got, u) {
		t.Fatal("a whole stored user reads differently from its split form")
	}
	split.p.emits, whole.p.emits = nil, nil
	next := []stream.Message{
		split.event("m3", "Product Added", `{"cart_id":"c1","sku":"C"}`),
		split.event("m4", "Checkout Started", `{}`),
	}
	for _, m := range next {
		split.mustHandle(m)
		whole.mustHandle(m)
	}
	if !reflect.DeepEqual(split.activities(), whole.activities()) || !reflect.DeepEqual(split.sends(), whole.sends()) {
		t.Fatal("the same events on a whole stored user emit other records than on its split form")
	}
	if !reflect.DeepEqual(split.p.timers, whole.p.timers) {
		t.Fatalf("timers differ: %v / %v", split.p.timers, whole.p.timers)
	}
	a, _ := json.Marshal(split.user())
	w, _ := json.Marshal(whole.user())
	if string(a) != string(w) {
		t.Fatalf("state differs:\n%s\n%s", a, w)
	}
	if !journey.IsHead(whole.p.state["u1"]) {
		t.Fatal("a whole stored user was not rewritten split on its change")
	}
	keys := func(m map[string][]byte) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	if !reflect.DeepEqual(keys(split.p.state), keys(whole.p.state)) {
		t.Fatalf("stored keys differ: %q / %q", keys(split.p.state), keys(whole.p.state))
	}
}

// A user ID with a zero byte could name another user's instance record
// (user "u1\x00<instance>"): such an event is refused, permanently, and
// touches no state.
func TestStateUserIDWithZeroByteRefused(t *testing.T) {
	r := newSeamRig(t, holdCartJourney)
	r.mustHandle(r.event("m1", "Product Added", `{"cart_id":"c0","sku":"A"}`))
	id := r.user().Instances[0].ID
	before := maps.Clone(r.p.state)
	bad := "u1\x00" + id
	ev := &records.Event{MessageID: "m2", Type: records.EventTrack, Name: "Product Added", UserID: bad, Timestamp: r.p.now, Properties: records.JSON(`{"cart_id":"c0","sku":"B"}`)}
	b, err := r.cd.Encode(context.Background(), r.e.topics.events, ev)
	if err != nil {
		t.Fatal(err)
	}
	err = r.p.handle(r.e, stream.Message{Kind: stream.KindRecord, Topic: r.e.topics.events, Key: []byte(bad), Value: b})
	if !errors.Is(err, ErrKeyMismatch) || stream.IsRetryable(err) {
		t.Fatalf("event of user %q: %v, want a permanent ErrKeyMismatch", bad, err)
	}
	if !maps.EqualFunc(before, r.p.state, bytes.Equal) {
		t.Fatal("the refused event changed the state")
	}
}
