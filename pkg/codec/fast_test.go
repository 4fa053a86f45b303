package codec

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/schemas"
)

// TestDirectActivityMatchesGoavro: the direct encoder writes exactly the
// bytes goavro writes for the same activity, over many varied records
// (empty optional fields, long strings, unicode, negative versions and
// times before 1970), and those bytes decode back to the record.
func TestDirectActivityMatchesGoavro(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	w := c.own[schemas.Activity]
	rng := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		switch rng.IntN(4) {
		case 0:
			return ""
		case 1:
			return "caf\u00e9 \U0001F6D2"
		case 2:
			return string(bytes.Repeat([]byte("x"), rng.IntN(300)))
		}
		return fmt.Sprintf("id-%d", rng.Int64())
	}
	for i := range 2000 {
		a := records.Activity{
			ActivityID: str() + "a", InstanceID: str(), JourneyID: str(), JourneyVersion: int32(rng.IntN(1<<20) - 1<<19),
			UserID: str(), EntryKey: str(), StepID: str(), Kind: records.ActivityKind(str()), Reason: str(),
			At:      time.UnixMilli(rng.Int64N(1<<42) - 1<<41),
			TraceID: str(), SpanID: str(),
		}
		if i%3 == 0 {
			a.Details = records.JSON(fmt.Sprintf(`{"n":%d,"s":%q}`, i, str()))
		}
		got, err := c.Encode(context.Background(), "activity", a)
		if err != nil {
			t.Fatal(err)
		}
		native, err := bindings[schemas.Activity].encode(a)
		if err != nil {
			t.Fatal(err)
		}
		want, err := w.avro.BinaryFromNative(appendSingleObjectHeader(nil, w.fingerprint), native)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d: direct\n%x\ngoavro\n%x", i, got, want)
		}
		var back records.Activity
		if err := c.Decode(context.Background(), got, &back); err != nil {
			t.Fatal(err)
		}
		if back.ActivityID != a.ActivityID || back.Reason != a.Reason || !back.At.Equal(a.At) || back.JourneyVersion != a.JourneyVersion {
			t.Fatalf("record %d decodes to %+v", i, back)
		}
	}
	if _, err := c.Encode(context.Background(), "activity", records.Activity{Details: records.JSON(`[1]`)}); err == nil {
		t.Error("a details value that is not an object was accepted")
	}
}

func BenchmarkEncodeActivity(b *testing.B) {
	c, err := New()
	if err != nil {
		b.Fatal(err)
	}
	a := records.Activity{ActivityID: "be21cddfbbee57c424ccfbc9-3", InstanceID: "be21cddfbbee57c424ccfbc9", JourneyID: "abandoned-cart", JourneyVersion: 1,
		UserID: "user-00042", EntryKey: "cart-1", StepID: "idle", Kind: records.ActivityWaiting, Reason: "timer reset by Product Added",
		At: time.Now(), TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Details: records.JSON(`{"until":"2026-03-02T10:00:00Z","resets":1}`)}
	native, _ := bindings[schemas.Activity].encode(a)
	w := c.own[schemas.Activity]
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for range b.N {
			buf, _ = c.AppendEncode(context.Background(), buf[:0], "activity", &a)
		}
	})
	b.Run("goavro", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for range b.N {
			native, _ = bindings[schemas.Activity].encode(a)
			buf, _ = w.avro.BinaryFromNative(appendSingleObjectHeader(buf[:0], w.fingerprint), native)
		}
	})
}

// TestDirectEventMatchesGoavro: the direct event reader gives the same
// record as the general path for events written with Beckon's schema, and
// truncated or corrupted bodies still fail with the general path's errors.
func TestDirectEventMatchesGoavro(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w := c.own[schemas.Event]
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		e := records.Event{
			MessageID: fmt.Sprintf("m%d", i), Type: []records.EventType{records.EventTrack, records.EventIdentify, records.EventPage}[i%3],
			UserID: fmt.Sprintf("user-%d", rng.IntN(1000)), Timestamp: time.UnixMilli(rng.Int64N(1<<42) - 1<<41).UTC(),
		}
		if i%2 == 0 {
			e.Name, e.AnonymousID, e.SessionID = "Product Added", "anon-1", "s-1"
			e.Properties = records.JSON(fmt.Sprintf(`{"sku":"A","price":%d.5,"name":"caf\u00e9"}`, i))
			e.Context = records.JSON(`{"ip":"127.0.0.1"}`)
		}
		data, err := c.Encode(ctx, "events", e)
		if err != nil {
			t.Fatal(err)
		}
		var got records.Event
		if err := c.Decode(ctx, data, &got); err != nil {
			t.Fatal(err)
		}
		var want records.Event
		h, _ := ParseHeader(data)
		native, err := w.decode(h.Body, len(data), h.headerLen())
		if err != nil {
			t.Fatal(err)
		}
		f := newFields(w, native)
		bindings[schemas.Event].decode(f, &want)
		if *f.err != nil {
			t.Fatal(*f.err)
		}
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
			t.Fatalf("event %d:\ndirect %#v\ngoavro %#v", i, got, want)
		}
		for cut := len(data) - 1; cut > len(data)-4 && cut > 10; cut-- {
			if err := c.Decode(ctx, data[:cut], &got); err == nil {
				t.Fatalf("event %d cut to %d bytes decoded", i, cut)
			}
		}
	}
}
