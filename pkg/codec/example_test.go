package codec_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/beckon-dev/beckon/pkg/codec"
	"github.com/beckon-dev/beckon/pkg/records"
)

// Producing an Event: encode it, then produce the bytes with its Key (the user
// ID) to the events topic, e.g. with franz-go:
//
//	cl.Produce(ctx, &kgo.Record{Topic: "events", Key: []byte(ev.Key()), Value: value}, nil)
func Example() {
	ctx := context.Background()
	c, err := codec.New() // single-object encoding; codec.WithRegistry(cl) for Confluent framing
	if err != nil {
		log.Fatal(err)
	}
	props, err := records.NewJSON(map[string]any{"sku": "G-32", "price": 18.99, "quantity": 1})
	if err != nil {
		log.Fatal(err)
	}
	ev := records.Event{
		MessageID:  "01HZX3K9V7Q2WJ8N5R4T6Y1M0A",
		Type:       records.EventTrack,
		Name:       "Product Added",
		UserID:     "user-42",
		Timestamp:  time.Date(2024, 5, 14, 9, 21, 7, 0, time.UTC),
		Properties: props,
		Context:    records.JSON(`{"ip":"203.0.113.7","locale":"fr-FR"}`),
	}
	value, err := c.Encode(ctx, "events", ev)
	if err != nil {
		log.Fatal(err)
	}
	h, _ := codec.ParseHeader(value)
	fmt.Printf("key %s, %s, % x...\n", ev.Key(), h.Framing, value[:2])

	// Consuming it back.
	var got records.Event
	if err := c.Decode(ctx, value, &got); err != nil {
		var unknown *codec.UnknownFingerprintError
		if errors.As(err, &unknown) {
			log.Printf("writer schema %016x not registered", unknown.Fingerprint)
		}
		log.Fatal(err)
	}
	p, _ := got.Properties.Map()
	fmt.Println(got.Name, got.UserID, p["sku"])
	// Output:
	// key user-42, single-object, c3 01...
	// Product Added user-42 G-32
}
