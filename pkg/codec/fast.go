package codec

import (
	"encoding/binary"
	"fmt"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/schemas"
)

// Direct encoders write the Avro binary body of Beckon's own schema for
// record types the engine emits on every input, skipping goavro's generic
// native-map path (a map per record, reflection per field), which costs
// several times more. They must produce exactly goavro's bytes; the tests
// compare them on many records.
var direct = map[string]func(dst []byte, r records.Record) ([]byte, error){
	schemas.Activity: func(dst []byte, r records.Record) ([]byte, error) {
		switch a := r.(type) {
		case records.Activity:
			return appendActivity(dst, &a)
		case *records.Activity:
			return appendActivity(dst, a)
		}
		return dst, fmt.Errorf("codec: cannot encode %T as %s", r, schemas.Activity)
	},
}

func appendActivity(b []byte, a *records.Activity) ([]byte, error) {
	details, err := jsonObject(schemas.Activity, "details", a.Details)
	if err != nil {
		return b, err
	}
	b = appendString(b, a.ActivityID)
	b = appendString(b, a.InstanceID)
	b = appendString(b, a.JourneyID)
	b = appendLong(b, int64(a.JourneyVersion))
	b = appendString(b, a.UserID)
	b = appendString(b, a.EntryKey)
	b = appendOptString(b, a.StepID)
	b = appendString(b, string(a.Kind))
	b = appendOptString(b, a.Reason)
	b = appendLong(b, a.At.UnixMilli())
	b = appendOptString(b, a.TraceID)
	b = appendOptString(b, a.SpanID)
	b = appendLong(b, int64(len(details)))
	return append(b, details...), nil
}

// appendLong writes an Avro int or long: a zig-zag varint.
func appendLong(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func appendString(b []byte, s string) []byte {
	b = appendLong(b, int64(len(s)))
	return append(b, s...)
}

// appendOptString writes a ["null","string"] union: null for "".
func appendOptString(b []byte, s string) []byte {
	if s == "" {
		return appendLong(b, 0)
	}
	return appendString(appendLong(b, 1), s)
}
