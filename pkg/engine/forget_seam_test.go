package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// TestForgetRecord: what a forget record's value does. The key is the
// request: an empty value, and a value that does not decode, forget the
// key's user (state, timers, a tombstone on each user-keyed output);
// a ForgetRequest that names another user than its key is a permanent
// error (dead-lettered) that changes nothing; an empty key is refused.
func TestForgetRecord(t *testing.T) {
	encode := func(r *seamRig, req records.ForgetRequest) []byte {
		b, err := r.cd.Encode(context.Background(), r.e.topics.forget, &req)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		key    string
		value  func(*seamRig) []byte
		forget bool
	}{
		{"empty value", "u1", func(*seamRig) []byte { return nil }, true},
		{"request", "u1", func(r *seamRig) []byte { return encode(r, records.ForgetRequest{RequestID: "r1", UserID: "u1"}) }, true},
		{"undecodable value", "u1", func(*seamRig) []byte { return []byte("not avro") }, true},
		{"another user in the body", "u1", func(r *seamRig) []byte { return encode(r, records.ForgetRequest{RequestID: "r2", UserID: "u2"}) }, false},
		{"no key", "", func(*seamRig) []byte { return nil }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newSeamRig(t, waitingJourney)
			if err := r.p.handle(r.e, r.event("m1", "Product Added", `{"cart_id":"c1","sku":"SKU-1"}`)); err != nil {
				t.Fatal(err)
			}
			if len(r.p.state) == 0 || len(r.p.timers) == 0 {
				t.Fatalf("the user has no state or timer to forget: %v %v", r.p.state, r.p.timers)
			}
			before := len(r.p.emits)
			err := r.p.handle(r.e, stream.Message{Kind: stream.KindRecord, Topic: r.e.topics.forget, Key: []byte(tc.key), Value: tc.value(r)})
			if !tc.forget {
				if err == nil || stream.IsRetryable(err) || !errors.Is(err, ErrKeyMismatch) {
					t.Fatalf("err %v, want a permanent key mismatch", err)
				}
				if len(r.p.state) == 0 || len(r.p.emits) != before {
					t.Errorf("a refused forget changed the state or emitted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(r.p.state) != 0 || len(r.p.timers) != 0 {
				t.Errorf("left state %q and timers %v", keys(r.p.state), r.p.timers)
			}
			tombs := map[string]bool{}
			exited := 0
			for _, em := range r.p.emits[before:] {
				switch {
				case em.value == nil && em.key == "u1":
					tombs[em.topic] = true
				case em.topic == r.e.topics.activity:
					var a records.Activity
					if err := r.cd.Decode(context.Background(), em.value, &a); err == nil && a.Kind == records.ActivityExited && a.Reason == "forgotten" {
						exited++
					}
				}
			}
			for _, topic := range r.e.erasable() {
				if !tombs[topic] {
					t.Errorf("no tombstone on %s", topic)
				}
			}
			if exited != 1 {
				t.Errorf("%d instances exited as forgotten, want 1", exited)
			}
		})
	}
}

// waitingJourney leaves a user with a running instance and a timer.
const waitingJourney = `
id: waiting
trigger: {event: Product Added, key: event.properties.cart_id}
steps:
  - id: idle
    delay: {for: 1h}
  - id: remind
    send: {channel: email, template: cart-reminder}
`

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, strings.ReplaceAll(k, "\x00", "\\0"))
	}
	return out
}
