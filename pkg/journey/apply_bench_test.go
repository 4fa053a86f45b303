package journey

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// twoCarts is a user with two open carts of five items each, the next
// cart event and its time.
func twoCarts() (*scenario, *records.Event, time.Time) {
	s := newScenario(&testing.T{}, cartJourney)
	for i := range 10 {
		s.event("Product Added", fmt.Sprintf(`{"cart_id":"c%d","sku":"sku-%d","name":"Shirt","price":19.9,"size":"M","colour":"blue"}`, i%2, i))
	}
	ev := &records.Event{MessageID: "m", Type: records.EventTrack, Name: "Product Added", UserID: "u1", Timestamp: t0,
		Properties: records.JSON(`{"cart_id":"c1","sku":"sku-3","name":"Shirt","price":19.9,"size":"M","colour":"blue"}`)}
	return s, ev, t0.Add(time.Minute)
}

// BenchmarkApplyCartEvent is the pure cost of one Product Added for a user
// with two open carts of five items each: the decode and encode of the
// user's state around Apply, as the engine does.
func BenchmarkApplyCartEvent(b *testing.B) {
	s, ev, now := twoCarts()
	state, err := s.u.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var u User
		if err := u.UnmarshalBinary(state); err != nil {
			b.Fatal(err)
		}
		if _, err := Apply(&u, Input{Event: ev}, s.env, now); err != nil {
			b.Fatal(err)
		}
		if _, err := u.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(state))/2, "state-B/cart")
}

// BenchmarkEnrichedPayload is the cost of one send whose payload joins a
// 5-item cart to a 100,000-row catalog by SKU and reads a loyalty fact:
// lookups, CEL and the JSON payload (the engine adds a point read of the
// catalog's global table per item).
func BenchmarkEnrichedPayload(b *testing.B) {
	catalog := make(map[string]map[string]any, 100_000)
	for i := range 100_000 {
		sku := fmt.Sprintf("SKU-%06d", i)
		catalog["catalog/"+sku] = map[string]any{"sku": sku, "name": "Linen Shirt", "price": 59.0, "size": "M", "colour": "blue", "image_url": "https://shop.example.com/img/" + sku + ".jpg"}
	}
	catalog["cards/L-7"] = map[string]any{"points": 1200.0}
	def := strings.Replace(enrichedCart, "%s", "", 1)
	s := newScenario(&testing.T{}, def)
	s.env.Facts = map[string]any{"loyalty": map[string]any{"card": "L-7"}}
	s.env.Lookup = catalogLookup(catalog)
	j := s.cat.Current()[0]
	inst := &Instance{ID: "i", Journey: j.Def.ID, Version: j.Version, EntryKey: "c1", Step: "remind", EnteredAt: t0}
	for i := range 5 {
		inst.Items = append(inst.Items, Item{Key: fmt.Sprintf("SKU-%06d", i*20_000+7), Value: []byte(`{"size":"M"}`), Quantity: 1})
	}
	st, _, _ := j.Step("remind")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		a := &applier{u: &User{ID: "u1"}, env: s.env, now: t0}
		in := *inst
		in.Sends = nil
		if _, wait := a.send(j, &in, st, nil); wait || len(a.fx.Sends) != 1 {
			b.Fatalf("no send: %+v", a.fx.Activities)
		}
	}
}

// BenchmarkApplyCartEventSplit is BenchmarkApplyCartEvent on the state as
// the engine stores it: the head (format 6) and the packed record of the
// instance the event touches are decoded (the other cart stays a stub),
// and the touched instance and the head are encoded back.
func BenchmarkApplyCartEventSplit(b *testing.B) {
	s, ev, now := twoCarts()
	head, err := s.u.MarshalHead()
	if err != nil {
		b.Fatal(err)
	}
	packed := map[string][]byte{}
	for _, inst := range s.u.Instances {
		raw, err := MarshalInstance(inst)
		if err != nil {
			b.Fatal(err)
		}
		packed[inst.ID] = PackInstance(raw)
	}
	var buf []byte
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var u User
		ids, stubs, err := u.UnmarshalHeadStubs(head)
		if err != nil {
			b.Fatal(err)
		}
		u.Instances = stubs
		snap := *s.env
		in := Input{Event: ev}
		for i, t := range Touches(&u, in, &snap) {
			if t {
				if u.Instances[i], _, err = UnmarshalInstance(packed[ids[i]]); err != nil {
					b.Fatal(err)
				}
			}
		}
		if _, err := Apply(&u, in, &snap, now); err != nil {
			b.Fatal(err)
		}
		for _, inst := range u.Instances {
			if !inst.Stub() {
				if buf, err = AppendInstance(buf[:0], inst); err != nil {
					b.Fatal(err)
				}
				_ = PackInstance(buf)
			}
		}
		if _, err := u.MarshalHead(); err != nil {
			b.Fatal(err)
		}
	}
}
