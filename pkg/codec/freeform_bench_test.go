package codec

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/linkedin/goavro/v2"
)

// The alternative to carrying free-form data as JSON text: a recursive Avro
// union. Avro can only name records, so the union is wrapped in one. This
// schema exists only to measure the choice; Beckon does not use it.
const unionEventSchema = `{
  "type": "record", "name": "Event", "namespace": "bench.union",
  "fields": [
    {"name": "message_id", "type": "string"},
    {"name": "type", "type": {"type": "enum", "name": "EventType", "symbols": ["track", "identify", "page"]}},
    {"name": "event", "type": ["null", "string"], "default": null},
    {"name": "user_id", "type": "string"},
    {"name": "anonymous_id", "type": ["null", "string"], "default": null},
    {"name": "timestamp", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "properties", "type": {"type": "map", "values": {
      "type": "record", "name": "Value", "fields": [
        {"name": "v", "type": ["null", "boolean", "long", "double", "string",
          {"type": "array", "items": "Value"},
          {"type": "map", "values": "Value"}]}
      ]}}},
    {"name": "context", "type": "string", "default": "{}"},
    {"name": "session_id", "type": ["null", "string"], "default": null}
  ]
}`

// toUnionValue turns a value parsed from JSON into the native form of Value.
func toUnionValue(v any) map[string]any {
	switch x := v.(type) {
	case nil:
		return map[string]any{"v": nil}
	case bool:
		return map[string]any{"v": goavro.Union("boolean", x)}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return map[string]any{"v": goavro.Union("long", int64(x))}
		}
		return map[string]any{"v": goavro.Union("double", x)}
	case string:
		return map[string]any{"v": goavro.Union("string", x)}
	case []any:
		items := make([]any, len(x))
		for i, it := range x {
			items[i] = toUnionValue(it)
		}
		return map[string]any{"v": goavro.Union("array", items)}
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, it := range x {
			m[k] = toUnionValue(it)
		}
		return map[string]any{"v": goavro.Union("map", m)}
	}
	panic(fmt.Sprintf("unexpected JSON value %T", v))
}

// fromUnionValue turns a decoded Value back into a plain Go value, what the
// journey engine needs to evaluate conditions on it.
func fromUnionValue(v any) any {
	wrapped := v.(map[string]any)["v"]
	if wrapped == nil {
		return nil
	}
	for branch, x := range wrapped.(map[string]any) {
		switch branch {
		case "array":
			items := x.([]any)
			out := make([]any, len(items))
			for i, it := range items {
				out[i] = fromUnionValue(it)
			}
			return out
		case "map":
			return fromUnionMap(x.(map[string]any))
		default:
			return x
		}
	}
	return nil
}

func fromUnionMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = fromUnionValue(v)
	}
	return out
}

// BenchmarkFreeForm measures the cost of the free-form encoding choice on a
// typical Event: properties as JSON text (what Beckon does) or as a recursive
// Avro union. "avro" decodes the Avro body only; "parsed" also produces a
// plain map[string]any of the properties, as a journey condition needs.
// "codec" rows go through Codec.Decode (bounds check, typed Event).
func BenchmarkFreeForm(b *testing.B) {
	ctx := context.Background()
	ev := sampleEvent()
	var props map[string]any
	if err := json.Unmarshal(ev.Properties, &props); err != nil {
		b.Fatal(err)
	}

	jsonCodec := mustNew(b)
	jsonData := mustEncode(b, jsonCodec, ev)
	jsonAvro := jsonCodec.own[ev.AvroName()].avro
	jsonBody := jsonData[singleObjectHeaderLen:]

	unionAvro, err := goavro.NewCodec(unionEventSchema)
	if err != nil {
		b.Fatal(err)
	}
	unionProps := make(map[string]any, len(props))
	for k, v := range props {
		unionProps[k] = toUnionValue(v)
	}
	unionBody, err := unionAvro.BinaryFromNative(nil, map[string]any{
		"message_id":   ev.MessageID,
		"type":         string(ev.Type),
		"event":        goavro.Union("string", ev.Name),
		"user_id":      ev.UserID,
		"anonymous_id": goavro.Union("string", ev.AnonymousID),
		"timestamp":    ev.Timestamp,
		"properties":   unionProps,
		"context":      string(ev.Context),
		"session_id":   goavro.Union("string", ev.SessionID),
	})
	if err != nil {
		b.Fatal(err)
	}

	// Both encodings must carry the same properties, or the comparison is moot.
	native, _, err := unionAvro.NativeFromBinary(unionBody)
	if err != nil {
		b.Fatal(err)
	}
	roundTrip, _ := json.Marshal(fromUnionMap(native.(map[string]any)["properties"].(map[string]any)))
	if want, _ := json.Marshal(props); string(roundTrip) != string(want) {
		b.Fatalf("union properties %s, want %s", roundTrip, want)
	}

	run := func(name string, size int, fn func() error) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := fn(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size), "body-bytes")
		})
	}
	run("json-string/avro", len(jsonBody), func() error {
		_, _, err := jsonAvro.NativeFromBinary(jsonBody)
		return err
	})
	run("json-string/parsed", len(jsonBody), func() error {
		n, _, err := jsonAvro.NativeFromBinary(jsonBody)
		if err != nil {
			return err
		}
		var m map[string]any
		return json.Unmarshal([]byte(n.(map[string]any)["properties"].(string)), &m)
	})
	run("union/avro", len(unionBody), func() error {
		_, _, err := unionAvro.NativeFromBinary(unionBody)
		return err
	})
	run("union/parsed", len(unionBody), func() error {
		n, _, err := unionAvro.NativeFromBinary(unionBody)
		if err != nil {
			return err
		}
		if m := fromUnionMap(n.(map[string]any)["properties"].(map[string]any)); len(m) != len(props) {
			return fmt.Errorf("got %d properties", len(m))
		}
		return nil
	})
	var into records.Event
	run("codec/lazy", len(jsonBody), func() error {
		return jsonCodec.Decode(ctx, jsonData, &into)
	})
	run("codec/parsed", len(jsonBody), func() error {
		if err := jsonCodec.Decode(ctx, jsonData, &into); err != nil {
			return err
		}
		_, err := into.Properties.Map()
		return err
	})
}
