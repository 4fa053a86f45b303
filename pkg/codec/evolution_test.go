package codec

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/schemas"
	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// eventSchemaWith returns Beckon's Event schema changed by edit, as another
// producer's version of it.
func eventSchemaWith(t *testing.T, edit func(fields []any) []any) string {
	t.Helper()
	text, err := schemas.Schema(schemas.Event)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		t.Fatal(err)
	}
	s["fields"] = edit(s["fields"].([]any))
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func without(name string) func([]any) []any {
	return func(fields []any) []any {
		var out []any
		for _, f := range fields {
			if f.(map[string]any)["name"] != name {
				out = append(out, f)
			}
		}
		return out
	}
}

func replacing(name string, typ any) func([]any) []any {
	return func(fields []any) []any {
		for _, f := range fields {
			if m := f.(map[string]any); m["name"] == name {
				m["type"] = typ
				delete(m, "default")
			}
		}
		return fields
	}
}

func appending(field map[string]any) func([]any) []any {
	return func(fields []any) []any { return append(fields, field) }
}

// baseNative is an Event in goavro's native form for Beckon's own schema,
// without session_id, which the cases below add or not.
func baseNative() map[string]any {
	return map[string]any{
		"message_id":   "m-1",
		"type":         "track",
		"event":        goavro.Union("string", "Order Completed"),
		"user_id":      "user-42",
		"anonymous_id": nil,
		"timestamp":    at(1715678467412),
		"properties":   `{"total":42}`,
		"context":      `{"ip":"203.0.113.7"}`,
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestSchemaEvolution(t *testing.T) {
	// What every compatible writer below must decode to.
	want := records.Event{
		MessageID:  "m-1",
		Type:       records.EventTrack,
		Name:       "Order Completed",
		UserID:     "user-42",
		Timestamp:  at(1715678467412),
		Properties: records.JSON(`{"total":42}`),
		Context:    records.JSON(`{"ip":"203.0.113.7"}`),
	}
	tests := []struct {
		name   string
		schema string
		native map[string]any
		want   func(records.Event) records.Event // nil: decoding must fail
		field  string                            // the FieldError's field when it fails
		extra  string                            // a field DecodeNative must show
	}{
		{
			name:   "current schema",
			schema: eventSchemaWith(t, func(f []any) []any { return f }),
			native: with(baseNative(), "session_id", nil),
			want:   func(e records.Event) records.Event { return e },
		},
		{
			name: "newer producer adds an optional field",
			schema: eventSchemaWith(t, appending(map[string]any{
				"name": "campaign_id", "type": []any{"null", "string"}, "default": nil, "doc": "added in v2",
			})),
			native: with(baseNative(), "session_id", nil, "campaign_id", goavro.Union("string", "spring-sale")),
			want:   func(e records.Event) records.Event { return e },
			extra:  "campaign_id",
		},
		{
			name:   "older producer without session_id",
			schema: eventSchemaWith(t, without("session_id")),
			native: baseNative(),
			want:   func(e records.Event) records.Event { return e },
		},
		{
			name:   "producer writes event as a plain string, not a union",
			schema: eventSchemaWith(t, replacing("event", "string")),
			native: with(baseNative(), "event", "Order Completed", "session_id", nil),
			want:   func(e records.Event) records.Event { return e },
		},
		{
			name:   "producer writes timestamp as a plain long (milliseconds)",
			schema: eventSchemaWith(t, replacing("timestamp", "long")),
			native: with(baseNative(), "timestamp", int64(1715678467412), "session_id", nil),
			want:   func(e records.Event) records.Event { return e },
		},
		{
			name: "newer producer adds an event type symbol",
			schema: eventSchemaWith(t, replacing("type", map[string]any{
				"type": "enum", "name": "EventType", "symbols": []any{"track", "identify", "page", "screen"},
			})),
			native: with(baseNative(), "type", "screen", "session_id", nil),
			want:   func(e records.Event) records.Event { e.Type = "screen"; return e },
		},
		{
			name:   "producer without the required user_id",
			schema: eventSchemaWith(t, without("user_id")),
			native: with(baseNative(), "session_id", nil),
			field:  "user_id",
		},
		{
			name:   "producer with a timestamp of the wrong type",
			schema: eventSchemaWith(t, replacing("timestamp", "string")),
			native: with(baseNative(), "timestamp", "yesterday", "session_id", nil),
			field:  "timestamp",
		},
	}
	for _, tt := range tests {
		writer, err := goavro.NewCodec(tt.schema)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		body, err := writer.BinaryFromNative(nil, tt.native)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		check := func(t *testing.T, c *Codec, data []byte) {
			ctx := context.Background()
			var got records.Event
			err := c.Decode(ctx, data, &got)
			if tt.want == nil {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tt.field || fe.Record != schemas.Event {
					t.Fatalf("got %v, want a FieldError on %s", err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w := tt.want(want); !reflect.DeepEqual(got, w) {
				t.Fatalf("\n got %+v\nwant %+v", got, w)
			}
			if tt.extra != "" {
				_, native, err := c.DecodeNative(ctx, data)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(native[tt.extra], tt.native[tt.extra]) {
					t.Fatalf("DecodeNative %s = %v, want %v", tt.extra, native[tt.extra], tt.native[tt.extra])
				}
			}
		}
		t.Run(tt.name+"/single-object", func(t *testing.T) {
			// A producer writes the specification's fingerprint of its
			// schema; one that differs from Beckon's only in logical types
			// (a plain long timestamp) has Beckon's fingerprint.
			canonical, err := parsingCanonicalForm(tt.schema)
			if err != nil {
				t.Fatal(err)
			}
			fp := crc64Avro([]byte(canonical))
			data := append(appendSingleObjectHeader(nil, fp), body...)
			c := mustNew(t)
			if canonical != c.own[schemas.Event].canonical {
				var fe *UnknownFingerprintError
				if err := c.Decode(context.Background(), data, &records.Event{}); !errors.As(err, &fe) || fe.Fingerprint != fp {
					t.Fatalf("before AddWriterSchema: got %v, want unknown fingerprint %016x", err, fp)
				}
			} else {
				check(t, c, data) // same canonical form: readable as it is
			}
			if _, err := c.AddWriterSchema(tt.schema); err != nil {
				t.Fatal(err)
			}
			check(t, c, data)
			// Older Beckon producers wrote goavro's fingerprint: still read.
			check(t, c, append(appendSingleObjectHeader(nil, writer.Rabin), body...))
		})
		t.Run(tt.name+"/confluent", func(t *testing.T) {
			reg, cl := newRegistry(t)
			id, _, err := reg.RegisterSchema("events-value", sr.Schema{Schema: tt.schema, Type: sr.TypeAvro})
			if err != nil {
				t.Fatal(err)
			}
			check(t, mustNew(t, WithRegistry(cl)), append(appendConfluentHeader(nil, id), body...))
		})
	}
}
