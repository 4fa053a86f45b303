package records

import (
	"reflect"
	"testing"
)

// Field answers exactly as Map()[name] does, for every key of the object
// and for a key it lacks, or declines (ok false, the caller uses Map).
func checkField(t *testing.T, in string) {
	j := JSON(in)
	m, err := j.Map()
	keys := []string{"absent", ""}
	for k := range m {
		keys = append(keys, k)
	}
	fields := j.Fields()
	for _, k := range keys {
		v, found, ok := j.Field(k)
		// One check of the text answers every key as Field does.
		if v2, found2, ok2 := fields.Field(k); ok2 != ok || found2 != found || !reflect.DeepEqual(v2, v) {
			t.Fatalf("%q: Fields().Field(%q) = %#v, %v, %v; Field has %#v, %v, %v", in, k, v2, found2, ok2, v, found, ok)
		}
		if !ok {
			continue
		}
		if err != nil {
			t.Fatalf("%q: Field(%q) = %#v, %v; Map fails: %v", in, k, v, found, err)
		}
		want, wantFound := m[k]
		if found != wantFound || !reflect.DeepEqual(v, want) {
			t.Fatalf("%q: Field(%q) = %#v, %v; Map has %#v, %v", in, k, v, found, want, wantFound)
		}
	}
}

var fieldSamples = append([]string{``, `  `, ` null `, `{"a":{"b":"\u00e9"},"cart_id":"c1"}`, `{"a\"b":1,"c":2}`,
	`{"cart_id":"c1","sku":"sku-1","name":"Linen Shirt","price":59,"size":"M","colour":"blue","image":"https://shop.example.com/img/1.jpg"}`,
	`{"x":[{"y":[1,"\n",true,null,{}]}],"cart_id":7.5e1}`, `{"x":"\q","cart_id":"c1"}`, `{"x":1e999,"cart_id":"c1"}`},
	jsonSamples...)

func TestFieldMatchesMap(t *testing.T) {
	for _, in := range fieldSamples {
		checkField(t, in)
	}
	j := JSON(fieldSamples[5])
	if v, found, ok := j.Field("cart_id"); !ok || !found || v != "c1" {
		t.Errorf("a plain event's cart_id: %#v, %v, %v", v, found, ok)
	}
	if _, found, ok := j.Field("nope"); !ok || found {
		t.Errorf("an absent key: found %v, ok %v", found, ok)
	}
	if v, found, ok := JSON(`{"dup":1,"dup":2}`).Field("dup"); !ok || !found || v != 2.0 {
		t.Errorf("a duplicate key: %#v, %v, %v (the last one wins, as in Map)", v, found, ok)
	}
	if _, _, ok := JSON(`{"a":1} x`).Field("a"); ok {
		t.Error("text after the object: Field answered; Map fails on it")
	}
}

func FuzzField(f *testing.F) {
	for _, in := range fieldSamples {
		f.Add(in)
	}
	f.Fuzz(checkField)
}

func BenchmarkField(b *testing.B) {
	j := JSON(`{"cart_id":"cart-user-016-0","sku":"SKU-0500","name":"Canvas Sneakers","price":75,"quantity":1,"size":"M","colour":"blue","image":"https://shop.example.com/img/500.jpg"}`)
	b.ReportAllocs()
	for range b.N {
		if _, found, ok := j.Field("sku"); !found || !ok {
			b.Fatal("no sku")
		}
	}
}

// BenchmarkFields reads two properties with one check of the text, as an
// event's entry key and a state rule do.
func BenchmarkFields(b *testing.B) {
	j := JSON(`{"cart_id":"cart-user-016-0","sku":"SKU-0500","name":"Canvas Sneakers","price":75,"quantity":1,"size":"M","colour":"blue","image":"https://shop.example.com/img/500.jpg"}`)
	b.ReportAllocs()
	for range b.N {
		f := j.Fields()
		_, found1, ok1 := f.Field("cart_id")
		_, found2, ok2 := f.Field("price")
		if !found1 || !ok1 || !found2 || !ok2 {
			b.Fatal("no cart_id or price")
		}
	}
}
