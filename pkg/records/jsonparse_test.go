package records

import (
	"encoding/json"
	"reflect"
	"testing"
)

var jsonSamples = []string{
	`{}`, `null`, ` { "a" : 1 } `, `{"cart_id":"c1","sku":"SKU-0500","price":59.5,"quantity":1,"gift":false,"note":null}`,
	`{"nested":{"a":[1,2,{"b":"c"}],"e":[]},"f":-0.0,"g":1e3,"h":-12.5E-2,"i":0}`,
	`{"esc":"a\"b\\c\/d\ne\tf\rg\bh\fi","uni":"caf\u00e9","raw":"café 🛒"}`,
	`{"dup":1,"dup":2}`, `{"big":1e400}`, `{"bad":"\x01"}`, `[1,2]`, `"s"`, `{"a":1,}`, `{"a" 1}`, `{"a":01}`,
	`{"a":1.}`, `{"a":-}`, `{"a":tru}`, `{"a":"unterminated}`, `{"a":1} x`, "{\"bad\":\"\xff\"}", `{"a":[1,]}`,
	`{"deep":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}`,
}

// The fast object parser gives exactly what encoding/json gives, or
// declines.
func checkParseObject(t *testing.T, in string) {
	fast, ok := parseObject([]byte(in))
	var want map[string]any
	err := json.Unmarshal([]byte(in), &want)
	if !ok {
		return // declined: Map falls back to encoding/json
	}
	if err != nil {
		t.Fatalf("%q: parsed %v, encoding/json says %v", in, fast, err)
	}
	if want == nil {
		want = map[string]any{}
	}
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("%q:\nfast %#v\njson %#v", in, fast, want)
	}
}

func TestParseObjectMatchesEncodingJSON(t *testing.T) {
	for _, in := range jsonSamples {
		checkParseObject(t, in)
	}
	if _, ok := parseObject([]byte(jsonSamples[3])); !ok {
		t.Fatal("a plain event's properties were declined")
	}
}

func FuzzParseObject(f *testing.F) {
	for _, in := range jsonSamples {
		f.Add(in)
	}
	f.Fuzz(checkParseObject)
}

func BenchmarkMap(b *testing.B) {
	j := JSON(`{"cart_id":"cart-user-016-0","sku":"SKU-0500","name":"Canvas Sneakers","price":75,"quantity":1,"size":"M","colour":"blue","image":"https://shop.example.com/img/500.jpg"}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := j.Map(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var m map[string]any
			if err := json.Unmarshal(j, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
