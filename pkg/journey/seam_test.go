package journey

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// The seam between the engine and the semantics: what Apply returns when a
// port cannot read, and the timer intents it returns instead of leaving
// the engine to edit instances.

// errStoreDown stands for a store or schema registry that did not answer.
var errStoreDown = errors.New("store read failed")

// flakyLookup is a lookup port over rows that fails every read while down
// is set, as a store that does not answer would.
type flakyLookup struct {
	rows  map[string]map[string]any
	down  bool
	reads int
}

func (f *flakyLookup) lookup(table, key string) (map[string]any, bool, error) {
	f.reads++
	if f.down {
		return nil, false, fmt.Errorf("table %s: %w", table, errStoreDown)
	}
	row, ok := f.rows[table+"/"+key]
	return row, ok, nil
}

// TestLookupFailureIsNotMissingData: a lookup port that cannot read makes
// Apply return its error with no effects, whatever the send's missing
// policy (the row is not known to be missing); the same input applied to
// the state as it was stored, once the port answers again, sends with the
// row. Before, the failure became an error activity and no send.
func TestLookupFailureIsNotMissingData(t *testing.T) {
	for _, policy := range []string{"", "missing: skip", "missing: wait"} {
		t.Run(policy, func(t *testing.T) {
			s := newScenario(t, strings.Replace(enrichedCart, "%s", policy, 1))
			port := &flakyLookup{rows: map[string]map[string]any{
				"catalog/SKU-1": {"name": "Linen Shirt", "price": 59.0},
				"cards/L-7":     {"points": 1200.0},
			}, down: true}
			s.env.Facts = map[string]any{"loyalty": map[string]any{"card": "L-7"}}
			s.env.Lookup = port.lookup
			stored, err := s.u.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			ev := &records.Event{MessageID: "m1", Type: records.EventTrack, Name: "Product Added", UserID: "u1", Timestamp: s.now,
				Properties: records.JSON(`{"cart_id":"c1","sku":"SKU-1","size":"M"}`)}

			var u User
			if err := u.UnmarshalBinary(stored); err != nil {
				t.Fatal(err)
			}
			fx, err := Apply(&u, Input{Event: ev}, s.env, s.now)
			if !errors.Is(err, errStoreDown) {
				t.Fatalf("Apply with a failing lookup port: err %v, want the port's error", err)
			}
			if port.reads == 0 {
				t.Fatal("the port was never read: the test does not reach the lookup")
			}
			if len(fx.Sends)+len(fx.Activities)+len(fx.Handoffs)+len(fx.Timers) != 0 {
				t.Fatalf("effects of a failed Apply: %+v", fx)
			}

			port.down = false
			u = User{}
			if err := u.UnmarshalBinary(stored); err != nil {
				t.Fatal(err)
			}
			fx, err = Apply(&u, Input{Event: ev}, s.env, s.now)
			if err != nil {
				t.Fatal(err)
			}
			if len(fx.Sends) != 1 {
				t.Fatalf("%d sends after the port recovered, want 1: %+v", len(fx.Sends), fx.Activities)
			}
			if got := string(fx.Sends[0].Payload); got != `{"items":[{"name":"Linen Shirt","price":59,"size":"M","sku":"SKU-1"}],"points":1200}` {
				t.Errorf("payload %s", got)
			}
		})
	}
}

// TestLookupOfUnknownTable: a table the port does not have is permanent:
// an error activity of the instance, and the journey goes on.
func TestLookupOfUnknownTable(t *testing.T) {
	s := newScenario(t, strings.Replace(enrichedCart, "%s", "", 1))
	s.env.Facts = map[string]any{"loyalty": map[string]any{"card": "L-7"}}
	s.env.Lookup = func(table, key string) (map[string]any, bool, error) {
		return nil, false, fmt.Errorf("%w %q (configure it: --lookups)", ErrNoTable, table)
	}
	s.event("Product Added", `{"cart_id":"c1","sku":"SKU-1","size":"M"}`)
	s.wantSends()
	s.wantActivity(records.ActivityError, "no such lookup table")
	if len(s.u.Instances) != 0 {
		t.Fatalf("instance still running: %+v", s.u.Instances[0])
	}
}

// TestTimerIntents: the timers Apply asks for, input by input, for a cart
// journey: armed on entry, kept (not re-armed) when a reset moves the
// wake-up later, re-armed when the early timer fires, re-armed earlier
// when the wake-up moves earlier, and cancelled when the instance ends.
// The instance's TimerAt follows them; the engine only carries them out.
func TestTimerIntents(t *testing.T) {
	const j = `
id: timers
trigger: {event: Product Added, key: event.properties.cart_id}
exit:
  - event: Order Completed
steps:
  - id: idle
    hold: {event: Checkout Started, timeout: 1h, reset_on: [Product Added], on_event: soon}
  - id: remind
    send: {channel: email, template: cart}
  - id: soon
    delay: {for: 10m}
  - id: again
    send: {channel: email, template: again}
`
	s := newScenario(t, j)
	timers := func(fx Effects) string {
		var out []string
		for _, tm := range fx.Timers {
			if tm.At.IsZero() {
				out = append(out, "cancel")
			} else {
				out = append(out, "arm @"+tm.At.Sub(t0).String())
			}
		}
		return strings.Join(out, ",")
	}
	want := func(step, got, want string) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: timers %q, want %q; activity:\n%s", step, got, want, s.activityLog())
		}
	}
	want("entry", timers(s.event("Product Added", `{"cart_id":"c1","sku":"A"}`)), "arm @1h0m0s")
	id := s.u.Instances[0].ID
	s.after(20 * time.Minute)
	want("reset (wake-up later)", timers(s.event("Product Added", `{"cart_id":"c1","sku":"B"}`)), "")
	if got := s.u.Instances[0].TimerAt; !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("TimerAt %v after the reset, want the armed 1h", got.Sub(t0))
	}
	// The armed timer fires at 1h, early: the instance is due at 1h20m.
	s.at(t0.Add(time.Hour))
	if got := s.timers[id]; !got.Equal(t0.Add(80 * time.Minute)) {
		t.Fatalf("after the early timer: armed %v, want 1h20m", got.Sub(t0))
	}
	s.wantSends()
	// The hold's event moves the instance to a 10m delay: the wake-up
	// moves earlier than the armed timer, which is re-armed.
	want("wake-up earlier", timers(s.event("Checkout Started", `{"cart_id":"c1"}`)), "arm @1h10m0s")
	want("ended", timers(s.event("Order Completed", `{"cart_id":"c1"}`)), "cancel")
	if len(s.timers) != 0 || len(s.u.Instances) != 0 {
		t.Fatalf("timers %v, instances %d after the end", s.timers, len(s.u.Instances))
	}
	s.after(3 * time.Hour)
	s.wantSends()
}
