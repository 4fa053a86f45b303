package codec

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// Test-only writer schemas that reach guard paths Beckon's own schemas cannot:
// zero-size items and unbounded recursion.
const (
	nullsSchema = `{"type":"record","name":"dev.beckon.test.Nulls","fields":[{"name":"n","type":{"type":"array","items":"null"}}]}`
	treeSchema  = `{"type":"record","name":"dev.beckon.test.Tree","fields":[{"name":"v","type":["null","long","string"]},{"name":"kids","type":{"type":"map","values":"dev.beckon.test.Tree"}}]}`
)

// FuzzDecode feeds arbitrary bytes to both a single-object codec and a
// registry codec. Decoding must never panic, must fail with exactly one of
// the codec's error kinds, and what decodes must survive re-encoding.
//
//	go test -run '^$' -fuzz=FuzzDecode -fuzzminimizetime=5s ./pkg/codec
//
// (The default minimization budget of 60s per new input makes the fuzzer look
// stalled at "execs: N (0/sec)" while it shrinks large seeds.)
func FuzzDecode(f *testing.F) {
	ctx := context.Background()
	plain := mustNew(f, WithWriterSchemas(nullsSchema, treeSchema))
	_, cl := newRegistry(f)
	withRegistry := mustNew(f, WithRegistry(cl))

	for _, r := range sampleRecords() {
		f.Add(mustEncode(f, plain, r))
		f.Add(mustEncode(f, withRegistry, r))
	}
	nullsFP, _ := plain.AddWriterSchema(nullsSchema)
	treeFP, _ := plain.AddWriterSchema(treeSchema)
	event := mustEncode(f, plain, sampleEvent())
	for _, seed := range [][]byte{
		nil,
		{0xC3},
		{0xC3, 0x02},
		{0, 0, 0},
		[]byte(`{"user_id":"u"}`),
		event[:7],
		event[:len(event)-3],
		cat(event, []byte{0}),
		cat(appendConfluentHeader(nil, 999), event[10:]),
		cat(appendSingleObjectHeader(nil, 0x0123456789abcdef), event[10:]),
		cat(appendSingleObjectHeader(nil, nullsFP), avro(3, 0)),                      // [null, null, null]
		cat(appendSingleObjectHeader(nil, treeFP), avro(1, 3, 1, "a", 2, "x", 0, 0)), // {v: 3, kids: {a: {v: "x"}}}
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []*Codec{plain, withRegistry} {
			if _, _, err := c.DecodeNative(ctx, data); err != nil {
				checkKind(t, err)
			}
			rec, err := c.DecodeAny(ctx, data)
			if err != nil {
				checkKind(t, err)
				continue
			}
			// Encoding normalizes (free-form JSON is trimmed, absent
			// values become {}), so compare the second and third
			// generations: decode(encode(x)) must be a fixed point.
			b, err := c.Encode(ctx, "fuzz", rec)
			if err != nil {
				// Decoding does not parse free-form JSON; encoding does.
				if errors.Is(err, ErrInvalidField) {
					continue
				}
				t.Fatalf("re-encode %T: %v", rec, err)
			}
			second, err := c.DecodeAny(ctx, b)
			if err != nil {
				t.Fatalf("decode re-encoded %T: %v", rec, err)
			}
			b, err = c.Encode(ctx, "fuzz", second)
			if err != nil {
				t.Fatalf("re-encode %T again: %v", rec, err)
			}
			third, err := c.DecodeAny(ctx, b)
			if err != nil {
				t.Fatalf("decode re-encoded %T again: %v", rec, err)
			}
			if !reflect.DeepEqual(deref(second), deref(third)) {
				t.Fatalf("re-encoding changed the record:\n%+v\n%+v", deref(second), deref(third))
			}
		}
	})
}

// checkKind fails unless err matches exactly one of the codec's sentinels.
func checkKind(t *testing.T, err error) {
	t.Helper()
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error matches %d error kinds, want 1: %v", n, err)
	}
}
