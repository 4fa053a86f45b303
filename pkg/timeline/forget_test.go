package timeline

import (
	"testing"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/pkg/stream"
)

// TestTimelineTombstones: a tombstone keyed by a user on the activity
// topic or on a send topic (the engine forgot the user) deletes the
// user's whole timeline and its timer, and nothing of another user's; a
// tombstone on receipts (the channel teams') is skipped. None is a
// dead letter.
func TestTimelineTombstones(t *testing.T) {
	for _, base := range []string{"activity", "send.email", "receipts"} {
		t.Run(base, func(t *testing.T) {
			r := newRig(t, Retention{})
			r.act("c1", "cart-1", records.ActivityEntered, "trigger Product Added", "")
			other := records.Activity{ActivityID: "o1-1", InstanceID: "o1", JourneyID: "abandoned-cart", JourneyVersion: 1,
				UserID: "u2", StepID: "idle", Kind: records.ActivityEntered, At: r.part.now}
			r.record("activity", other)
			s, _ := r.layout.Spec(base)
			if err := r.p.handle(r.part, stream.Message{Topic: s.Name, Key: []byte("u1")}); err != nil {
				t.Fatalf("tombstone on %s: %v", base, err)
			}
			all, _ := r.timelineKeys()
			_, timer := r.part.timers[string(timelinePrefix("u1"))]
			if base == "receipts" {
				if len(all) == 0 || !timer {
					t.Fatalf("a receipt tombstone deleted the timeline: %q, timer %v", all, timer)
				}
				return
			}
			if len(all) != 0 || timer {
				t.Fatalf("after the tombstone: %q, timer %v", all, timer)
			}
			if _, ok := r.part.state[string(timelineIndexKey("u2"))]; !ok {
				t.Fatal("the tombstone of u1 removed u2's timeline")
			}
		})
	}
}
