package codec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/schemas"
)

// deref returns the value a Record pointer points to, so values and
// pointers compare equal.
func deref(r records.Record) any {
	v := reflect.ValueOf(r)
	if v.Kind() == reflect.Pointer {
		return v.Elem().Interface()
	}
	return r
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	_, cl := newRegistry(t)
	codecs := []struct {
		name    string
		c       *Codec
		framing Framing
	}{
		{"single-object", mustNew(t), SingleObject},
		{"confluent", mustNew(t, WithRegistry(cl)), Confluent},
	}
	for _, cc := range codecs {
		for _, rec := range sampleRecords() {
			t.Run(cc.name+"/"+rec.AvroName(), func(t *testing.T) {
				b := mustEncode(t, cc.c, rec)
				h, err := ParseHeader(b)
				if err != nil {
					t.Fatal(err)
				}
				if h.Framing != cc.framing {
					t.Fatalf("framing %v, want %v", h.Framing, cc.framing)
				}
				if fp, _ := cc.c.Fingerprint(rec.AvroName()); cc.framing == SingleObject && h.Fingerprint != fp {
					t.Fatalf("fingerprint %016x, want %016x", h.Fingerprint, fp)
				}

				// Decode into the typed struct.
				into := bindings[rec.AvroName()].alloc()
				if err := cc.c.Decode(ctx, b, into); err != nil {
					t.Fatal(err)
				}
				if got := deref(into); !reflect.DeepEqual(got, rec) {
					t.Fatalf("round trip:\n got %+v\nwant %+v", got, rec)
				}

				// DecodeAny finds the type by itself.
				anyRec, err := cc.c.DecodeAny(ctx, b)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(deref(anyRec), rec) {
					t.Fatalf("DecodeAny:\n got %+v\nwant %+v", deref(anyRec), rec)
				}

				// Encoding a pointer encodes the value it points to. (Bytes
				// are not compared: goavro writes Avro maps in Go's random
				// map order.)
				ptr := reflect.New(reflect.TypeOf(rec))
				ptr.Elem().Set(reflect.ValueOf(rec))
				fromPtr, err := cc.c.DecodeAny(ctx, mustEncode(t, cc.c, ptr.Interface().(records.Record)))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(deref(fromPtr), rec) {
					t.Fatalf("pointer encodes differently:\n got %+v\nwant %+v", deref(fromPtr), rec)
				}
			})
		}
	}
}

// A codec decodes both framings whatever its own configuration: a
// single-object-only codec reads registry-framed records whose ID it learns
// from the registry, and a registry codec reads single-object records.
func TestDecodeEitherFraming(t *testing.T) {
	ctx := context.Background()
	_, cl := newRegistry(t)
	withRegistry := mustNew(t, WithRegistry(cl))
	plain := mustNew(t)
	ev := sampleEvent()

	var got records.Event
	if err := withRegistry.Decode(ctx, mustEncode(t, plain, ev), &got); err != nil || !reflect.DeepEqual(got, ev) {
		t.Fatalf("registry codec reading single-object: %v %+v", err, got)
	}

	// A second registry codec has no cached IDs: it must fetch the schema.
	fresh := mustNew(t, WithRegistry(cl))
	got = records.Event{}
	if err := fresh.Decode(ctx, mustEncode(t, withRegistry, ev), &got); err != nil || !reflect.DeepEqual(got, ev) {
		t.Fatalf("fresh registry codec reading Confluent: %v %+v", err, got)
	}

	// Without a registry, a Confluent-framed record is an unknown ID.
	var idErr *UnknownSchemaIDError
	err := plain.Decode(ctx, mustEncode(t, withRegistry, ev), &got)
	if !errors.As(err, &idErr) || !errors.Is(err, errNoRegistry) {
		t.Fatalf("plain codec reading Confluent: %v", err)
	}
}

func TestSubjectStrategies(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		strategy SubjectStrategy
		want     string
	}{
		{"default", nil, "events-value"},
		{"topic", TopicNameStrategy, "events-value"},
		{"record", RecordNameStrategy, "dev.beckon.Event"},
		{"topic-record", TopicRecordNameStrategy, "events-dev.beckon.Event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, cl := newRegistry(t)
			opts := []Option{WithRegistry(cl)}
			if tt.strategy != nil {
				opts = append(opts, WithSubjectStrategy(tt.strategy))
			}
			c := mustNew(t, opts...)
			b, err := c.Encode(ctx, "events", sampleEvent())
			if err != nil {
				t.Fatal(err)
			}
			ss, ok := reg.GetSchema(tt.want, 1)
			if !ok {
				t.Fatalf("subject %q not registered", tt.want)
			}
			if id := int(binary.BigEndian.Uint32(b[1:5])); id != ss.ID {
				t.Fatalf("header ID %d, registered ID %d", id, ss.ID)
			}
		})
	}
}

// The registry is asked once per subject and schema; later encodes use the
// cached ID.
func TestRegistryIDCached(t *testing.T) {
	ctx := context.Background()
	reg, cl := newRegistry(t)
	calls := 0
	reg.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		calls++
		return false
	})
	c := mustNew(t, WithRegistry(cl))
	for range 5 {
		if _, err := c.Encode(ctx, "events", sampleEvent()); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Fatalf("%d registry calls for 5 encodes, want 1", calls)
	}
	// Decoding our own records needs no call either.
	var e records.Event
	b, _ := c.Encode(ctx, "events", sampleEvent())
	if err := c.Decode(ctx, b, &e); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("decode called the registry")
	}
}

func TestEncodeRejects(t *testing.T) {
	c := mustNew(t)
	ev := sampleEvent()
	tests := []struct {
		name  string
		rec   records.Record
		field string
	}{
		{"properties not JSON", func() records.Record { e := ev; e.Properties = records.JSON(`{"a":`); return e }(), "properties"},
		{"properties not an object", func() records.Record { e := ev; e.Properties = records.JSON(`[1,2]`); return e }(), "properties"},
		{"context not JSON", func() records.Record { e := ev; e.Context = records.JSON(`nope`); return e }(), "context"},
		{"fact value not JSON", records.Fact{UserID: "u", Name: "n", Value: records.JSON(`gold`)}, "value"},
		{"payload not JSON", func() records.Record { s := sampleSendCommand(); s.Payload = records.JSON(`{`); return s }(), "payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Encode(context.Background(), "t", tt.rec)
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidField) || fe.Field != tt.field {
				t.Fatalf("got %v, want a FieldError on %s", err, tt.field)
			}
		})
	}
	t.Run("unknown enum symbol", func(t *testing.T) {
		e := ev
		e.Type = "screen"
		if _, err := c.Encode(context.Background(), "t", e); err == nil {
			t.Fatal("encoded an event type the schema does not have")
		}
	})
	t.Run("nil pointer", func(t *testing.T) {
		var e *records.Event
		if _, err := c.Encode(context.Background(), "t", e); err == nil {
			t.Fatal("encoded a nil pointer")
		}
	})
}

// Absent optional values travel as null and free-form fields as {} (or null
// for Fact.Value), and come back as zero values and that JSON.
func TestZeroValues(t *testing.T) {
	c := mustNew(t)
	tests := []struct {
		in, want records.Record
	}{
		{records.Event{Type: records.EventIdentify}, records.Event{Type: records.EventIdentify, Properties: records.JSON("{}"), Context: records.JSON("{}")}},
		{records.Fact{}, records.Fact{Value: records.JSON("null")}},
		{records.JourneyDefinition{}, records.JourneyDefinition{}},
		{records.Profile{}, records.Profile{Traits: records.JSON("{}")}},
	}
	for _, tt := range tests {
		t.Run(tt.in.AvroName(), func(t *testing.T) {
			into := bindings[tt.in.AvroName()].alloc()
			if err := c.Decode(context.Background(), mustEncode(t, c, tt.in), into); err != nil {
				t.Fatal(err)
			}
			if got := deref(into); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeInto(t *testing.T) {
	c := mustNew(t)
	b := mustEncode(t, c, sampleEvent())
	var ev records.Event
	tests := []struct {
		name string
		into records.Record
		is   error
	}{
		{"value, not pointer", records.Event{}, nil},
		{"nil pointer", (*records.Event)(nil), nil},
		{"other type", &records.Receipt{}, ErrWrongType},
		{"right type", &ev, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Decode(context.Background(), b, tt.into)
			switch {
			case tt.name == "right type":
				if err != nil {
					t.Fatal(err)
				}
			case tt.is != nil:
				if !errors.Is(err, tt.is) {
					t.Fatalf("got %v, want %v", err, tt.is)
				}
			default:
				if err == nil {
					t.Fatal("decoded into something that is not a non-nil pointer")
				}
			}
		})
	}
	var wt *WrongTypeError
	if err := c.Decode(context.Background(), b, &records.Receipt{}); !errors.As(err, &wt) || wt.Want != schemas.Receipt || wt.Got != schemas.Event {
		t.Fatalf("wrong type error %v", err)
	}
}

// One codec is shared by all goroutines of a process: first registrations,
// ID fetches and schema additions race with encodes and decodes. Run with
// -race.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	_, cl := newRegistry(t)
	producer := mustNew(t, WithRegistry(cl))
	consumer := mustNew(t, WithRegistry(cl)) // learns every ID from the registry
	recs := sampleRecords()
	done := make(chan error)
	for g := range 8 {
		go func() {
			for i := range 50 {
				rec := recs[(g+i)%len(recs)]
				b, err := producer.Encode(ctx, topicFor(rec), rec)
				if err != nil {
					done <- err
					return
				}
				got, err := consumer.DecodeAny(ctx, b)
				if err != nil {
					done <- err
					return
				}
				if !reflect.DeepEqual(deref(got), rec) {
					done <- fmt.Errorf("goroutine %d: got %+v", g, deref(got))
					return
				}
				if i%10 == 0 {
					if _, err := consumer.AddWriterSchema(nullsSchema); err != nil {
						done <- err
						return
					}
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestAddWriterSchema(t *testing.T) {
	tests := []struct {
		name    string
		schema  string
		wantErr bool
		body    []any // a valid body for it
	}{
		{"not JSON", `{"type":`, true, nil},
		{"not a record", `"string"`, true, nil},
		{"invalid Avro", `{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}`, true, nil},
		{"record", nullsSchema, false, []any{2, 0}},             // [null, null]
		{"recursive record", treeSchema, false, []any{1, 2, 0}}, // {v: long 2, kids: {}}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t)
			fp, err := c.AddWriterSchema(tt.schema)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			// The fingerprint is what a producer of that schema puts in its
			// header: its records now decode.
			data := cat(appendSingleObjectHeader(nil, fp), avro(tt.body...))
			if name, _, err := c.DecodeNative(context.Background(), data); err != nil || !strings.HasPrefix(name, "dev.beckon.test.") {
				t.Fatalf("DecodeNative after adding: %q %v", name, err)
			}
			if again, err := c.AddWriterSchema(tt.schema); err != nil || again != fp {
				t.Fatalf("adding again: %016x %v", again, err)
			}
		})
	}
}
