package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// fields reads one record decoded by goavro, field by field and by name, as
// the writer's schema (node) lays it out. It is how a record written with an
// older or newer schema becomes the typed Go struct: fields the Go type does not
// know are ignored, optional fields the writer does not have are left zero,
// and Avro's promotions (int to long, string to bytes) are accepted. The first
// problem is kept in *err and later reads become no-ops that return zero.
type fields struct {
	record string // top-level full name, for errors
	path   string // prefix of this record's fields, e.g. "addresses."
	node   *node
	m      map[string]any
	err    *error
}

func newFields(w *writerSchema, native map[string]any) *fields {
	var err error
	return &fields{record: w.name, node: w.root, m: native, err: &err}
}

func (f *fields) fail(name, format string, args ...any) {
	if *f.err == nil {
		*f.err = &FieldError{Record: f.record, Field: f.path + name, Reason: fmt.Sprintf(format, args...)}
	}
}

// get returns field name's value, unwrapped from its union if the writer's
// field is one, with its writer type. ok is false when the field is absent or
// null, which is a FieldError if required.
func (f *fields) get(name string, required bool) (v any, t *node, ok bool) {
	if *f.err != nil {
		return nil, nil, false
	}
	fd := f.node.field(name)
	if fd == nil {
		if required {
			f.fail(name, "required, but missing from the writer's schema")
		}
		return nil, nil, false
	}
	v, t, ok = f.unwrap(name, f.m[name], fd.typ)
	if !ok && required && *f.err == nil {
		f.fail(name, "required, but null")
	}
	return v, t, ok
}

// unwrap removes goavro's union wrapper ({"<branch type>": value}) from v if
// t is a union. ok is false for null.
func (f *fields) unwrap(name string, v any, t *node) (any, *node, bool) {
	if t.kind != kindUnion {
		return v, t, v != nil || t.kind != kindNull
	}
	if v == nil {
		return nil, nil, false
	}
	w, isMap := v.(map[string]any)
	if !isMap || len(w) != 1 {
		f.fail(name, "union value is %T, want a single-branch map", v)
		return nil, nil, false
	}
	for key, inner := range w {
		b := t.branch(key)
		if b == nil {
			f.fail(name, "union branch %q not in the writer's schema", key)
			return nil, nil, false
		}
		return f.unwrap(name, inner, b)
	}
	return nil, nil, false // unreachable: len(w) == 1
}

// str reads a string (or bytes) field. Absent or null gives "".
func (f *fields) str(name string, required bool) string {
	v, _, ok := f.get(name, required)
	if !ok {
		return ""
	}
	return f.asString(name, v)
}

func (f *fields) asString(name string, v any) string {
	switch s := v.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	}
	f.fail(name, "is %T, want a string", v)
	return ""
}

// int32 reads a required int field. A long is accepted if it fits.
func (f *fields) int32(name string) int32 {
	v, _, ok := f.get(name, true)
	if !ok {
		return 0
	}
	switch n := v.(type) {
	case int32:
		return n
	case int64:
		if n >= math.MinInt32 && n <= math.MaxInt32 {
			return int32(n)
		}
		f.fail(name, "%d does not fit an int", n)
		return 0
	}
	f.fail(name, "is %T, want an int", v)
	return 0
}

// time reads a timestamp-millis field; a plain long is read as milliseconds
// since the epoch. Absent or null gives the zero time.
func (f *fields) time(name string, required bool) time.Time {
	v, _, ok := f.get(name, required)
	if !ok {
		return time.Time{}
	}
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case int64:
		t = time.UnixMilli(x).UTC()
	default:
		f.fail(name, "is %T, want a timestamp", v)
		return time.Time{}
	}
	if t.IsZero() { // the zero time.Time was encoded; give it back as is
		return time.Time{}
	}
	return t
}

// json reads a free-form JSON field (an Avro string). It is not parsed here;
// see records.JSON. Absent gives nil.
func (f *fields) json(name string) records.JSON {
	v, _, ok := f.get(name, false)
	if !ok {
		return nil
	}
	switch s := v.(type) {
	case string:
		return records.JSON(s)
	case []byte:
		return records.JSON(bytes.Clone(s))
	}
	f.fail(name, "is %T, want JSON text", v)
	return nil
}

// sub returns a reader for the nested record in field name, or nil when the
// field is absent or null.
func (f *fields) sub(name string, required bool) *fields {
	v, t, ok := f.get(name, required)
	if !ok {
		return nil
	}
	return f.asRecord(name, v, t)
}

func (f *fields) asRecord(name string, v any, t *node) *fields {
	m, isMap := v.(map[string]any)
	if t.kind != kindRecord || !isMap {
		f.fail(name, "is a %v, want a record", t.kind)
		return nil
	}
	return &fields{record: f.record, path: f.path + name + ".", node: t, m: m, err: f.err}
}

// array reads an array field and calls fn with the name ("items[i]"), the
// value (unwrapped from a union) and the type of each non-null item.
func (f *fields) array(name string, fn func(name string, v any, t *node)) {
	v, t, ok := f.get(name, false)
	if !ok {
		return
	}
	items, isSlice := v.([]any)
	if t.kind != kindArray || !isSlice {
		f.fail(name, "is a %v, want an array", t.kind)
		return
	}
	for i, it := range items {
		iname := name + "[" + strconv.Itoa(i) + "]"
		if iv, it, ok := f.unwrap(iname, it, t.items); ok && *f.err == nil {
			fn(iname, iv, it)
		}
	}
}

// avroMap reads a map field like array does, calling fn for each non-null
// value with the name "field[key]" and the key.
func (f *fields) avroMap(name string, fn func(name, key string, v any, t *node)) {
	v, t, ok := f.get(name, false)
	if !ok {
		return
	}
	m, isMap := v.(map[string]any)
	if t.kind != kindMap || !isMap {
		f.fail(name, "is a %v, want a map", t.kind)
		return
	}
	for k, mv := range m {
		mname := name + "[" + strconv.Quote(k) + "]"
		if uv, ut, ok := f.unwrap(mname, mv, t.items); ok && *f.err == nil {
			fn(mname, k, uv, ut)
		}
	}
}

// Writing: the codec always encodes with Beckon's own schemas, so these
// helpers produce exactly what those schemas declare.

// optString is a ["null","string"] value: null for "".
func optString(s string) any {
	if s == "" {
		return nil
	}
	return map[string]any{"string": s}
}

// optTime is a ["null", timestamp-millis] value: null for the zero time.
func optTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return map[string]any{"long.timestamp-millis": t.UnixMilli()}
}

// millis is a timestamp-millis value.
func millis(t time.Time) int64 { return t.UnixMilli() }

// jsonObject checks a free-form object field and returns its wire text; an
// absent value is written as {}.
func jsonObject(record, name string, j records.JSON) ([]byte, error) {
	t := bytes.TrimSpace(j)
	if len(t) == 0 {
		return []byte("{}"), nil
	}
	if t[0] != '{' || !json.Valid(t) {
		return nil, &FieldError{Record: record, Field: name, Reason: "not a valid JSON object"}
	}
	return t, nil
}

// jsonValue checks a free-form field that may hold any JSON value; an absent
// value is written as null.
func jsonValue(record, name string, j records.JSON) ([]byte, error) {
	t := bytes.TrimSpace(j)
	if len(t) == 0 {
		return []byte("null"), nil
	}
	if !json.Valid(t) {
		return nil, &FieldError{Record: record, Field: name, Reason: "not valid JSON"}
	}
	return t, nil
}
