package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
	"unsafe"

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

// readers decode the body of Beckon's own schema straight into the Go
// type, for records written with it (the common case: Beckon's producers
// and the sample tools). They report false on anything unexpected; the
// caller then takes the general path, which explains the error.
var readers = map[string]func(body []byte, into records.Record) bool{
	schemas.Event: func(body []byte, into records.Record) bool {
		e, ok := into.(*records.Event)
		return ok && readEvent(body, e)
	},
}

var eventTypes = []records.EventType{records.EventTrack, records.EventIdentify, records.EventPage}

func readEvent(body []byte, e *records.Event) bool {
	// One copy of the body, which the event's strings and JSON values then
	// share (each JSON value capped at its length, so appending to it
	// cannot reach the next field): one allocation per event instead of
	// one per field. Nothing modifies a decoded event's bytes in place.
	r := &bodyReader{b: bytes.Clone(body), ok: true}
	*e = records.Event{MessageID: r.str()}
	if t := r.long(); t >= 0 && t < int64(len(eventTypes)) {
		e.Type = eventTypes[t]
	} else {
		return false
	}
	e.Name = r.optStr()
	e.UserID = r.str()
	e.AnonymousID = r.optStr()
	if ts := time.UnixMilli(r.long()).UTC(); !ts.IsZero() {
		e.Timestamp = ts
	}
	e.Properties = records.JSON(r.bytes())
	e.Context = records.JSON(r.bytes())
	e.SessionID = r.optStr()
	return r.ok && len(r.b) == 0
}

// bodyReader reads a body it owns (a private copy): its strings and byte
// values share the body's memory.
type bodyReader struct {
	b  []byte
	ok bool
}

func (r *bodyReader) long() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.b, r.ok = nil, false
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *bodyReader) bytes() []byte {
	n := r.long()
	if n < 0 || n > int64(len(r.b)) {
		r.b, r.ok = nil, false
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *bodyReader) str() string {
	n := r.long()
	if n < 0 || n > int64(len(r.b)) {
		r.b, r.ok = nil, false
		return ""
	}
	var s string
	if n > 0 {
		s = unsafe.String(&r.b[0], n)
	}
	r.b = r.b[n:]
	return s
}

func (r *bodyReader) optStr() string {
	switch r.long() {
	case 0:
		return ""
	case 1:
		return r.str()
	}
	r.b, r.ok = nil, false
	return ""
}
