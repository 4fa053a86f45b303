package journey

import (
	"fmt"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// BenchmarkApplyCartEvent is the pure cost of one Product Added for a user
// with two open carts of five items each: the decode and encode of the
// user's state around Apply, as the engine does.
func BenchmarkApplyCartEvent(b *testing.B) {
	s := newScenario(&testing.T{}, cartJourney)
	for i := range 10 {
		s.event("Product Added", fmt.Sprintf(`{"cart_id":"c%d","sku":"sku-%d","name":"Shirt","price":19.9,"size":"M","colour":"blue"}`, i%2, i))
	}
	state, err := s.u.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	ev := &records.Event{MessageID: "m", Type: records.EventTrack, Name: "Product Added", UserID: "u1", Timestamp: t0,
		Properties: records.JSON(`{"cart_id":"c1","sku":"sku-3","name":"Shirt","price":19.9,"size":"M","colour":"blue"}`)}
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var u User
		if err := u.UnmarshalBinary(state); err != nil {
			b.Fatal(err)
		}
		Apply(&u, Input{Event: ev}, s.env, now)
		if _, err := u.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(state))/2, "state-B/cart")
}
