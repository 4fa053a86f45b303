package journey

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/beckon-dev/beckon/pkg/records"
)

// vars are inputs as the engine builds them: properties decoded by
// encoding/json, so every number is a float64.
func vars(t *testing.T, props string) *Vars {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal([]byte(props), &p); err != nil {
		t.Fatal(err)
	}
	return &Vars{
		Event:   map[string]any{"name": "Product Added", "properties": p},
		Profile: map[string]any{"locale": "de-DE", "traits": map[string]any{"tier": "gold"}},
		Facts:   map[string]any{"loyalty": map[string]any{"points": int64(1200)}},
		State:   map[string]any{"items": []any{map[string]any{"key": "p1", "quantity": 2.0}}, "n": uint64(3)},
		Receipt: map[string]any{"status": "replied", "text": "Yes PLEASE"},
		Now:     time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
	}
}

const props = `{"total": 42.5, "count": 3, "cart_id": "c1", "sku": 1234, "name": "Mug", "tags": ["a", "b"], "nested": {"x": null}, "when": "2026-03-03T10:00:00Z"}`

func TestEval(t *testing.T) {
	v := vars(t, props)
	for _, tc := range []struct {
		src  string
		want any
	}{
		// Numbers from JSON are doubles; CEL compares them with ints and
		// uints, and == across numeric types compares values.
		{"event.properties.total > 10", true},
		{"event.properties.total >= 42.5", true},
		{"event.properties.count == 3", true},
		{"event.properties.count == 3u", true},
		{"event.properties.count < 3.5", true},
		{"facts.loyalty.points > 1000.5", true},
		{"state.n > 2", true},
		{"1 < 2.5", true},
		{"event.properties.total + 0.5", 43.0},
		{"int(event.properties.count) + 1", int64(4)},
		{"event.properties.cart_id", "c1"},
		{"event.properties.tags", []any{"a", "b"}},
		{"event.properties.nested", map[string]any{"x": nil}},
		{"has(event.properties.cart_id)", true},
		{"has(event.properties.coupon)", false},
		{"event.properties.?coupon.orValue('none')", "none"},
		{"event.properties.?cart_id.orValue('none')", "c1"},
		{"event.?missing", nil},
		{"size(state.items) == 1 && state.items[0].quantity == 2", true},
		{"state.items.exists(i, i.key == 'p1')", true},
		{"receipt.text.lowerAscii().contains('please')", true},
		{"math.greatest(1, 5, 3)", int64(5)},
		{"now", time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
		{"now + duration('1h') > timestamp(event.properties.when)", false},
		{"duration('90m')", 90 * time.Minute},
		{"b'ab'", []byte("ab")},
		{"{'a': 1, 2: 'b'}", map[string]any{"a": int64(1), "2": "b"}},
		{"[]", []any{}},
		{"profile.traits.tier in ['gold', 'platinum']", true},
	} {
		e, err := CompileExpr(tc.src)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		got, err := e.Eval(v)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %#v (%T), want %#v", tc.src, got, got, tc.want)
		}
	}
}

// Bad data in an event is an error from Eval, never a panic.
func TestEvalErrors(t *testing.T) {
	v := vars(t, props)
	for _, tc := range []struct{ src, want string }{
		{"event.properties.coupon", "no such key: coupon"},
		{"event.properties.coupon == 'x'", "no such key: coupon"},
		{"event.properties.name > 3", "no such overload"},
		{"event.properties.total + 1", "no such overload"}, // double + int: use 1.0
		{"event.properties.name.startsWith(event.properties.count)", "no such overload"},
		{"event.properties.tags[5]", "index out of bounds"},
		{"int(event.properties.name)", "type conversion error"},
		{"1 / (size(state.items) - 1)", "division by zero"},
		{"timestamp(event.properties.name)", "invalid RFC 3339 timestamp"},
	} {
		e, err := CompileExpr(tc.src)
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		_, err = e.Eval(v)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.src) {
			t.Errorf("%s: error %v, want one naming the expression and %q", tc.src, err, tc.want)
		}
	}
	// Nil inputs are empty maps.
	e, _ := CompileExpr("has(event.name) || size(state) > 0")
	if got, err := e.Bool(nil); err != nil || got {
		t.Errorf("nil vars: %v, %v", got, err)
	}
}

// No expression can stall a partition: MaxIterations stops it after a
// bounded number of comprehension steps and CostLimit after bounded work,
// both deterministic (no timer).
func TestEvalLimits(t *testing.T) {
	list := func(n int) *Vars {
		l := make([]any, n)
		for i := range l {
			l[i] = float64(i)
		}
		return &Vars{Event: map[string]any{"properties": map[string]any{"list": l}}}
	}
	hundred := "[" + strings.TrimSuffix(strings.Repeat("1,", 100), ",") + "]"
	for _, tc := range []struct {
		src  string
		n    int
		want string // "" for success
	}{
		{"event.properties.list.all(x, x >= 0.0)", MaxIterations - 1, ""},
		{"event.properties.list.all(x, x >= 0.0)", MaxIterations + 1, "more than 5000 iterations"},
		{"event.properties.list.all(x, x >= 0.0)", 1_000_000, "more than 5000 iterations"},
		{"event.properties.list.filter(x, x < 0.0).size() == 0", 1_000_000, "more than 5000 iterations"},
		{"event.properties.list.exists(x, x < 0.0)", 1_000_000, "more than 5000 iterations"},
		// Nested comprehensions count together: 60 x 100.
		{"event.properties.list.all(a, " + hundred + ".all(b, a + 1.0 > 0.0))", 60, "more than 5000 iterations"},
		{"event.properties.list.all(a, " + hundred + ".all(b, a + 1.0 > 0.0))", 40, ""},
		// Few iterations, much work each: the cost limit.
		{"event.properties.list.all(x, event.properties.list + [x] != event.properties.list)", 3000, "cost limit of 100000 exceeded"},
		{"event.properties.list.map(x, string(x)).join(',').size() > 0", 4000, ""},
	} {
		e, err := CompileExpr(tc.src)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Eval(list(tc.n))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%.60s over %d: %v", tc.src, tc.n, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%.60s over %d: error %v, want %q", tc.src, tc.n, err, tc.want)
		}
	}
}

func TestCompileExprErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"evnt.name == 'x'", "CEL error at 1:1: undeclared reference to 'evnt'"},
		{"event.name ==", "CEL error at 1:14: Syntax error: mismatched input '<EOF>'"},
		{"event.name == 'x' &&\n  evnt.name == 'y'", "CEL error at 2:3: undeclared reference to 'evnt'"},
		{"size(1)", "CEL error at 1:5: found no matching overload for 'size' applied to '(int)'"},
		{"", "empty expression"},
		{"  ", "empty expression"},
		{strings.Repeat("1 + ", 3000) + "1", "CEL error at"},
	} {
		_, err := CompileExpr(tc.src)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%.40q: %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestExprConversions(t *testing.T) {
	v := vars(t, props)
	str := func(src string) (string, error) {
		e, err := CompileExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		return e.String(v)
	}
	for src, want := range map[string]string{
		"event.properties.cart_id":  "c1",
		"event.properties.sku":      "1234",
		"event.properties.total":    "42.5",
		"1e21":                      "1000000000000000000000",
		"0.000001":                  "0.000001",
		"42":                        "42",
		"18446744073709551615u":     "18446744073709551615",
		"-7":                        "-7",
		"'ü' + string(3)":           "ü3",
		"facts.loyalty.points * 10": "12000",
	} {
		if got, err := str(src); err != nil || got != want {
			t.Errorf("String(%s) = %q, %v; want %q", src, got, err, want)
		}
	}
	for _, src := range []string{"true", "event.properties.tags", "now", "0.0/0.0"} {
		if got, err := str(src); err == nil {
			t.Errorf("String(%s) = %q, want an error", src, got)
		}
	}

	boolean := func(src string) (bool, error) {
		e, _ := CompileExpr(src)
		return e.Bool(v)
	}
	if _, err := boolean("event.properties.cart_id"); err == nil || !strings.Contains(err.Error(), `got a string ("c1"), want a bool`) {
		t.Errorf("Bool of a string: %v", err)
	}
	if ok, err := boolean("event.name == 'Product Added'"); err != nil || !ok {
		t.Errorf("Bool: %v, %v", ok, err)
	}

	at := time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
	for src, want := range map[string]time.Time{
		"timestamp('2026-03-03T10:00:00Z')": at,
		"event.properties.when":             at,
		"'2026-03-03T11:00:00+01:00'":       at,
		"1772532000":                        at,
		"1772532000u":                       at,
		"1772532000.5":                      at.Add(500 * time.Millisecond),
		"now + duration('25h')":             at,
	} {
		e, err := CompileExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := e.Time(v); err != nil || !got.Equal(want) {
			t.Errorf("Time(%s) = %v, %v; want %v", src, got, err, want)
		}
	}
	for _, src := range []string{"'tomorrow'", "true", "1e300", "event.properties"} {
		e, _ := CompileExpr(src)
		if got, err := e.Time(v); err == nil {
			t.Errorf("Time(%s) = %v, want an error", src, got)
		}
	}

	e, _ := CompileExpr(" event.name ")
	if e.Source() != " event.name " {
		t.Errorf("Source() = %q", e.Source())
	}
}

// BenchmarkEval measures a typical condition over JSON properties and a
// comprehension over a cart.
func BenchmarkEval(b *testing.B) {
	v := &Vars{
		Event: map[string]any{"properties": map[string]any{"total": 42.5, "cart_id": "c1"}},
		State: map[string]any{"items": []any{
			map[string]any{"key": "p1", "quantity": 2.0, "value": map[string]any{"price": 12.5}},
			map[string]any{"key": "p2", "quantity": 1.0, "value": map[string]any{"price": 120.0}},
		}},
	}
	for _, src := range []string{
		"event.properties.total > 10 && has(event.properties.cart_id)",
		"state.items.exists(i, i.value.price > 100.0)",
	} {
		e, err := CompileExpr(src)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(src, func(b *testing.B) {
			for b.Loop() {
				if ok, err := e.Bool(v); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// TestSelectionFastPathMatchesCEL: plain field selections are evaluated
// by walking the maps; results and failures agree with CEL's.
func TestSelectionFastPathMatchesCEL(t *testing.T) {
	vars := &Vars{
		Event: map[string]any{"name": "Product Added", "properties": map[string]any{
			"cart_id": "c1", "price": 19.9, "gift": false, "note": nil, "tags": []any{"a"}, "variant": map[string]any{"size": "M"},
		}},
		Profile: map[string]any{"traits": map[string]any{"tier": "gold"}},
		State:   map[string]any{"entered_at": time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), "n": int64(3)},
	}
	for _, src := range []string{
		"event.name", "event.properties.cart_id", "event.properties.price", "event.properties.gift",
		"event.properties.note", "event.properties.tags", "event.properties.variant", "event.properties.variant.size",
		"profile.traits.tier", "state.entered_at", "state.n",
		"event.properties.missing", "event.properties.cart_id.deeper", "profile.traits.tier.x", "facts.loyalty", "receipt.text",
	} {
		e, err := CompileExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		if e.path == nil {
			t.Fatalf("%s: not recognised as a selection", src)
		}
		fast, fastErr := e.Eval(vars)
		slow, slowErr := e.eval(vars)
		if (fastErr == nil) != (slowErr == nil) {
			t.Errorf("%s: fast err %v, CEL err %v", src, fastErr, slowErr)
			continue
		}
		if fmt.Sprintf("%#v", fast) != fmt.Sprintf("%#v", slow) {
			t.Errorf("%s: fast %#v, CEL %#v", src, fast, slow)
		}
	}
	for _, src := range []string{"event.properties.price + 1.0", "has(event.name)", "event['name']", "event.properties.?x.orValue(1)"} {
		if e, err := CompileExpr(src); err != nil || e.path != nil {
			t.Errorf("%s: taken for a plain selection (%v)", src, err)
		}
	}
}

// TestPropertyFastPathMatchesCEL: a selection of one event property is
// read from the properties' JSON text (records.JSON.Field), without the
// parsed map; results and failures agree with CEL on the parsed event,
// and the failures' text with the map walk's.
func TestPropertyFastPathMatchesCEL(t *testing.T) {
	texts := []string{
		`{"cart_id":"c1","price":19.9,"gift":false,"note":null,"tags":["a",1],"variant":{"size":"M"},"n":3}`,
		`{"cart_id":"c1","cart_id":"c2"}`, `{}`, ``, `null`, `{"cart_id":"caf\u00e9"}`, `{"a\"b":1,"cart_id":"c1"}`,
		`{"cart_id":"c1",}`, `[1]`, `"text"`, `{"cart_id":1e400}`, `{"cart_id":"c1"} x`, `{"esc":"a\nb","cart_id":-0.5e2}`,
	}
	for _, text := range texts {
		props := records.JSON(text)
		parsed, err := props.Map()
		event := map[string]any{"name": "Product Added", "properties": parsed}
		if err != nil {
			event["properties"] = map[string]any(nil) // what eventVars gives
		}
		// One check of the text serves every field, as in an Apply.
		shared := &eventProps{text: props}
		for _, field := range []string{"cart_id", "price", "gift", "note", "tags", "variant", "n", "esc", "missing"} {
			src := "event.properties." + field
			e, err := CompileExpr(src)
			if err != nil {
				t.Fatal(err)
			}
			if e.prop != field {
				t.Fatalf("%s: not recognised as a property selection", src)
			}
			built := false
			fastVars := &Vars{props: shared, lazyEvent: func() map[string]any { built = true; return event }}
			fast, fastErr := e.Eval(fastVars)
			slow, slowErr := e.eval(&Vars{Event: event})
			walked, walkErr := e.walk(&Vars{Event: event})
			if (fastErr == nil) != (slowErr == nil) {
				t.Errorf("%s on %s: fast err %v, CEL err %v", src, text, fastErr, slowErr)
				continue
			}
			if fmt.Sprint(fastErr) != fmt.Sprint(walkErr) {
				t.Errorf("%s on %s: fast err %v, walk err %v", src, text, fastErr, walkErr)
			}
			if fmt.Sprintf("%#v", fast) != fmt.Sprintf("%#v", slow) || fmt.Sprintf("%#v", fast) != fmt.Sprintf("%#v", walked) {
				t.Errorf("%s on %s: fast %#v, CEL %#v, walk %#v", src, text, fast, slow, walked)
			}
			if built && text == texts[0] {
				t.Errorf("%s on %s: the properties were parsed whole", src, text)
			}
		}
	}
}
