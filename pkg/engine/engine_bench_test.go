package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beckon-dev/beckon/pkg/records"
)

// BenchmarkCartEngine runs b.N abandoned-cart events (Product Added over
// users with two carts each) through one engine in this process, from
// produce until the engine's group has committed past the last event.
func BenchmarkCartEngine(b *testing.B) { cartEngine(b, newHarnessTB(b)) }

// cartEngine runs b.N cart events through h's engine and reports
// events/s and the process's CPU time per event.
func cartEngine(b *testing.B, h *harness) {
	if _, err := h.control.Publish(h.ctx, []byte(cartJourney), records.FormatYAML); err != nil {
		b.Fatal(err)
	}
	const users = 10_000
	for u := range users {
		h.profile(fmt.Sprintf("user-%05d", u))
	}
	h.start()
	recs := make([]*kgo.Record, 0, b.N)
	for i := range b.N {
		user := fmt.Sprintf("user-%05d", i%users)
		cart := fmt.Sprintf("cart-%d", (i/users)%2)
		ev := records.Event{MessageID: fmt.Sprintf("m%d", i), Type: records.EventTrack, Name: "Product Added", UserID: user,
			Timestamp: h.clock.now(), Properties: records.JSON(fmt.Sprintf(`{"cart_id":"%s","sku":"sku-%d","price":19.9,"name":"Shirt"}`, cart, i%500))}
		v, err := h.codec.Encode(h.ctx, h.topic("events"), ev)
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: h.topic("events"), Key: []byte(user), Value: v})
	}
	adm := kadm.NewClient(h.cl)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	if err := h.cl.ProduceSync(h.ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		offs, err := adm.FetchOffsets(h.ctx, h.group)
		if err == nil {
			var done int64
			offs.Each(func(o kadm.OffsetResponse) {
				if o.Topic == h.topic("events") {
					done += o.At
				}
			})
			if done >= int64(b.N) {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("engine did not finish within 5 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/event")
}
