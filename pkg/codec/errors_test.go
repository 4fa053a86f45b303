package codec

import (
	"context"
	"errors"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/beckon-dev/beckon/pkg/records"
	"github.com/beckon-dev/beckon/schemas"
	"github.com/twmb/franz-go/pkg/sr"
)

// avro builds an Avro body by hand: an int is a zig-zag varint, a string is
// its length then its bytes, a []byte is copied verbatim.
func avro(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			u := uint64(int64(v)<<1) ^ uint64(int64(v)>>63)
			for u >= 0x80 {
				b = append(b, byte(u)|0x80)
				u >>= 7
			}
			b = append(b, byte(u))
		case string:
			b = append(append(b, avro(len(v))...), v...)
		case []byte:
			b = append(b, v...)
		}
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	plain := mustNew(t)
	_, cl := newRegistry(t)
	withRegistry := mustNew(t, WithRegistry(cl))

	// A registry that cannot be reached.
	down := httptest.NewServer(nil)
	down.Close()
	downCl, err := sr.NewClient(sr.URLs(down.URL))
	if err != nil {
		t.Fatal(err)
	}
	unreachable := mustNew(t, WithRegistry(downCl))

	// Test-only schemas for what Beckon's own cannot express.
	nulls := `{"type":"record","name":"dev.beckon.test.Nulls","fields":[{"name":"n","type":{"type":"array","items":"null"}}]}`
	tree := `{"type":"record","name":"dev.beckon.test.Tree","fields":[{"name":"kids","type":{"type":"array","items":"dev.beckon.test.Tree"}}]}`
	nullsFP, err := plain.AddWriterSchema(nulls)
	if err != nil {
		t.Fatal(err)
	}
	treeFP, err := plain.AddWriterSchema(tree)
	if err != nil {
		t.Fatal(err)
	}

	event := mustEncode(t, plain, sampleEvent())
	eventFP, _ := plain.Fingerprint(schemas.Event)
	profileFP, _ := plain.Fingerprint(schemas.Profile)
	soe := func(fp uint64, body ...any) []byte { return cat(appendSingleObjectHeader(nil, fp), avro(body...)) }
	// The start of a Profile body up to its push tokens array.
	profileHead := []any{"u", "{}", 0, 0}
	deep := []any{}
	for range 200 {
		deep = append(deep, 1) // one child, nested 200 deep
	}

	tests := []struct {
		name  string
		codec *Codec
		data  []byte
		into  records.Record // nil: DecodeNative
		is    error
		check func(t *testing.T, err error)
	}{
		{name: "empty", data: nil, is: ErrTruncated, check: wantTruncated(0, 1)},
		{name: "marker cut after first byte", data: []byte{0xC3}, is: ErrTruncated, check: wantTruncated(1, 2)},
		{name: "single-object header cut", data: event[:7], is: ErrTruncated, check: wantTruncated(7, 10)},
		{name: "Confluent header cut", data: []byte{0, 0, 1}, is: ErrTruncated, check: wantTruncated(3, 5)},
		{name: "body cut", data: event[:len(event)-3], is: ErrTruncated, check: wantTruncated(len(event)-3, -1)},
		{name: "JSON instead of Avro", data: []byte(`{"user_id":"u"}`), is: ErrBadMagic, check: wantMagic(0x7B)},
		{name: "second marker byte wrong", data: cat([]byte{0xC3, 0x02}, event[2:]), is: ErrBadMagic, check: wantMagic(0xC3, 0x02)},
		{name: "unknown fingerprint", data: soe(0x0123456789abcdef, "m"), is: ErrUnknownFingerprint, check: func(t *testing.T, err error) {
			var e *UnknownFingerprintError
			if !errors.As(err, &e) || e.Fingerprint != 0x0123456789abcdef || !strings.Contains(err.Error(), "0123456789abcdef") {
				t.Fatalf("got %v", err)
			}
		}},
		{name: "unknown ID, no registry", data: cat(appendConfluentHeader(nil, 999), event[10:]), is: ErrUnknownSchemaID, check: wantID(999)},
		{name: "unknown ID, registry says so", codec: withRegistry, data: cat(appendConfluentHeader(nil, 999), event[10:]), is: ErrUnknownSchemaID, check: func(t *testing.T, err error) {
			wantID(999)(t, err)
			var re *sr.ResponseError
			if !errors.As(err, &re) || re.ErrorCode != sr.ErrSchemaNotFound.Code {
				t.Fatalf("cause %v, want the registry's schema-not-found", err)
			}
		}},
		{name: "registry unreachable", codec: unreachable, data: cat(appendConfluentHeader(nil, 7), event[10:]), is: ErrRegistry},
		{name: "wrong type", data: event, into: &records.Receipt{}, is: ErrWrongType, check: func(t *testing.T, err error) {
			var e *WrongTypeError
			if !errors.As(err, &e) || e.Want != schemas.Receipt || e.Got != schemas.Event {
				t.Fatalf("got %v", err)
			}
		}},
		{name: "trailing bytes", data: cat(event, []byte{0}), is: ErrMalformed, check: wantOffset(len(event))},
		{name: "union index out of range", data: soe(eventFP, "m", 0, 5), is: ErrMalformed, check: wantOffset(13)},
		{name: "enum index out of range", data: soe(eventFP, "m", 9), is: ErrMalformed, check: wantOffset(12)},
		{name: "negative string length", data: soe(eventFP, -1), is: ErrMalformed, check: wantOffset(10)},
		{name: "varint longer than 10 bytes", data: cat(soe(eventFP), []byte(strings.Repeat("\xff", 11))), is: ErrMalformed},
		{name: "array claims 2^31-1 items", data: soe(profileFP, append(profileHead, 1<<31-1)...), is: ErrTruncated},
		{name: "array claims 2^62 items", data: soe(profileFP, append(profileHead, 1<<62)...), is: ErrTruncated},
		{name: "negative block count claims 2^31 items", data: soe(profileFP, append(profileHead, -(1<<31), 4)...), is: ErrTruncated},
		{name: "map claims 2^31-1 entries", data: soe(profileFP, append(profileHead, 0, 0, 0, 0, 0, 1<<31-1)...), is: ErrTruncated},
		{name: "a million nulls from 4 bytes", data: soe(nullsFP, 1<<20, 0), is: ErrMalformed},
		{name: "nested 200 deep", data: soe(treeFP, deep...), is: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.codec
			if c == nil {
				c = plain
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var err error
			if tt.into != nil {
				err = c.Decode(ctx, tt.data, tt.into)
			} else {
				_, _, err = c.DecodeNative(ctx, tt.data)
			}
			runtime.ReadMemStats(&after)
			if !errors.Is(err, tt.is) {
				t.Fatalf("got %v, want %v", err, tt.is)
			}
			for _, other := range sentinels {
				if other != tt.is && errors.Is(err, other) {
					t.Fatalf("%v also matches %v", err, other)
				}
			}
			if tt.check != nil {
				tt.check(t, err)
			}
			// Hostile lengths must not turn into allocations.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
				t.Fatalf("decoding %d bytes allocated %d bytes", len(tt.data), grew)
			}
		})
	}
}

var sentinels = []error{ErrTruncated, ErrBadMagic, ErrUnknownFingerprint, ErrUnknownSchemaID, ErrWrongType, ErrMalformed, ErrInvalidField, ErrRegistry}

func wantTruncated(length, need int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		var e *TruncatedError
		if !errors.As(err, &e) || e.Len != length || (need >= 0 && e.Need != need) || e.Need <= e.Len {
			t.Fatalf("got %#v, want Len %d Need %d", err, length, need)
		}
	}
}

func wantMagic(seen ...byte) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		var e *BadMagicError
		if !errors.As(err, &e) || string(e.Seen) != string(seen) {
			t.Fatalf("got %v, want magic % x", err, seen)
		}
	}
}

func wantID(id int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		var e *UnknownSchemaIDError
		if !errors.As(err, &e) || e.ID != id {
			t.Fatalf("got %v, want ID %d", err, id)
		}
	}
}

func wantOffset(off int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		var e *MalformedError
		if !errors.As(err, &e) || e.Offset != off || e.Schema != schemas.Event {
			t.Fatalf("got %v, want malformed %s at offset %d", err, schemas.Event, off)
		}
	}
}

// Error messages carry what was wrong, for logs and dead-letter headers.
func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&TruncatedError{Len: 3, Need: 10, What: "single-object header"}, "codec: truncated input: 3 bytes, need at least 10 for single-object header"},
		{&BadMagicError{Seen: []byte{0x7b}}, "codec: wrong magic 7b: want c3 01 (Avro single-object) or 00 (Confluent)"},
		{&UnknownFingerprintError{Fingerprint: 0xab}, "codec: unknown schema fingerprint 00000000000000ab"},
		{&UnknownSchemaIDError{ID: 12}, "codec: unknown schema registry ID 12"},
		{&WrongTypeError{Want: "dev.beckon.Event", Got: "dev.beckon.Receipt"}, "codec: wrong record type: want dev.beckon.Event, got dev.beckon.Receipt"},
		{&MalformedError{Schema: "dev.beckon.Event", Offset: 12, Err: errors.New("enum index 9")}, "codec: malformed dev.beckon.Event body at offset 12: enum index 9"},
		{&FieldError{Record: "dev.beckon.Event", Field: "user_id", Reason: "required"}, "codec: dev.beckon.Event field user_id: required"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}
