package codec

import (
	"fmt"

	"github.com/beckon-dev/beckon/pkg/records"
)

// binding maps one record type between its Go struct and goavro's native
// form. Encoding always produces the native form of Beckon's own schema;
// decoding reads whatever writer schema the bytes came with, by field name.
type binding struct {
	name string
	// encode returns the native form of r, which is a T or a *T.
	encode func(r records.Record) (map[string]any, error)
	// decode fills into, which must be a non-nil *T; it reports false if it
	// is not.
	decode func(f *fields, into records.Record) bool
	// alloc returns a new *T.
	alloc func() records.Record
}

// bind builds the binding of record type T from its two conversions.
func bind[T records.Record](toNative func(*T) (map[string]any, error), fromNative func(*fields, *T)) *binding {
	var zero T
	name := zero.AvroName()
	return &binding{
		name: name,
		encode: func(r records.Record) (map[string]any, error) {
			switch v := any(r).(type) {
			case T:
				return toNative(&v)
			case *T:
				if v != nil {
					return toNative(v)
				}
			}
			return nil, fmt.Errorf("codec: cannot encode %T as %s", r, name)
		},
		decode: func(f *fields, into records.Record) bool {
			p, ok := any(into).(*T)
			if !ok || p == nil {
				return false
			}
			var z T
			*p = z
			fromNative(f, p)
			return true
		},
		alloc: func() records.Record {
			return any(new(T)).(records.Record)
		},
	}
}

// bindings lists every Beckon record type, by full Avro name.
var bindings = func() map[string]*binding {
	all := []*binding{
		bind(eventToNative, eventFromNative),
		bind(profileToNative, profileFromNative),
		bind(factToNative, factFromNative),
		bind(lookupRecordToNative, lookupRecordFromNative),
		bind(sendCommandToNative, sendCommandFromNative),
		bind(receiptToNative, receiptFromNative),
		bind(activityToNative, activityFromNative),
		bind(handoffToNative, handoffFromNative),
		bind(journeyDefinitionToNative, journeyDefinitionFromNative),
		bind(forgetRequestToNative, forgetRequestFromNative),
	}
	m := make(map[string]*binding, len(all))
	for _, b := range all {
		m[b.name] = b
	}
	return m
}()
