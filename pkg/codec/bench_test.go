package codec

import (
	"context"
	"testing"

	"github.com/beckon-dev/beckon/pkg/records"
)

// benchCases are the typical records: a track "Product Added" Event with 8
// properties and a browser context, and an email SendCommand whose payload is
// ~1.5 KiB of JSON with a 3-item cart.
func benchCases() []struct {
	name  string
	topic string
	rec   records.Record
	into  func() records.Record
} {
	return []struct {
		name  string
		topic string
		rec   records.Record
		into  func() records.Record
	}{
		{"event", "events", sampleEvent(), func() records.Record { return new(records.Event) }},
		{"send_command", "send.email", sampleSendCommand(), func() records.Record { return new(records.SendCommand) }},
	}
}

// benchCodecs returns a single-object codec and a registry codec whose schema
// IDs are already cached, so neither touches the network in the loop.
func benchCodecs(b *testing.B) []struct {
	name string
	c    *Codec
} {
	_, cl := newRegistry(b)
	reg := mustNew(b, WithRegistry(cl))
	for _, bc := range benchCases() {
		if _, err := reg.Encode(context.Background(), bc.topic, bc.rec); err != nil {
			b.Fatal(err)
		}
	}
	return []struct {
		name string
		c    *Codec
	}{{"single-object", mustNew(b)}, {"confluent", reg}}
}

func BenchmarkEncode(b *testing.B) {
	ctx := context.Background()
	for _, bc := range benchCases() {
		for _, cc := range benchCodecs(b) {
			b.Run(bc.name+"/"+cc.name, func(b *testing.B) {
				buf := make([]byte, 0, 4096)
				out, err := cc.c.AppendEncode(ctx, buf, bc.topic, bc.rec)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(out)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := cc.c.AppendEncode(ctx, buf, bc.topic, bc.rec); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	ctx := context.Background()
	for _, bc := range benchCases() {
		for _, cc := range benchCodecs(b) {
			data, err := cc.c.Encode(ctx, bc.topic, bc.rec)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(bc.name+"/"+cc.name, func(b *testing.B) {
				into := bc.into()
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if err := cc.c.Decode(ctx, data, into); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		// The bounds check alone, to show what it adds to Decode.
		b.Run(bc.name+"/guard-only", func(b *testing.B) {
			c := mustNew(b)
			data, err := c.Encode(ctx, bc.topic, bc.rec)
			if err != nil {
				b.Fatal(err)
			}
			w := c.own[bc.rec.AvroName()]
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := checkBody(w.root, w.name, data[singleObjectHeaderLen:], len(data), singleObjectHeaderLen); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
