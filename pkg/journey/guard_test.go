package journey

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/cel-go/cel"
)

// Every function of the expression environment is either guarded or
// listed as safe with a reason, and the lists name no function the
// environment lacks: a cel-go upgrade or a new extension cannot bring an
// unchecked growth function in silently.
func TestGuardCoversEnvironment(t *testing.T) {
	env, err := celEnv()
	if err != nil {
		t.Fatal(err)
	}
	disp, err := celGuard()
	if err != nil {
		t.Fatal(err)
	}
	fns := env.Functions()
	for name, fn := range fns {
		_, guarded := guards[name]
		_, safe := safeFunctions[name]
		switch {
		case guarded && safe:
			t.Errorf("%s is both guarded and listed as safe", name)
		case !guarded && !safe:
			var ids []string
			for _, o := range fn.OverloadDecls() {
				ids = append(ids, o.ID())
			}
			t.Errorf("%s %v is neither guarded nor listed as safe: decide which, from its implementation", name, ids)
		case guarded:
			// The guarded call evaluates arguments strictly; a
			// non-strict function would change meaning.
			for _, o := range fn.OverloadDecls() {
				if o.IsNonStrict() {
					t.Errorf("guarded %s has a non-strict overload %s", name, o.ID())
				}
			}
			if name != "_==_" && name != "_!=_" && name != "matches" {
				if impl, ok := disp.FindOverload(name); !ok || impl == nil {
					t.Errorf("guarded %s has no implementation in the dispatcher", name)
				}
			}
		}
	}
	for name := range guards {
		if _, ok := fns[name]; !ok {
			t.Errorf("guards name %s, which the environment does not have", name)
		}
	}
	for name := range safeFunctions {
		if _, ok := fns[name]; !ok {
			t.Errorf("safeFunctions name %s, which the environment does not have", name)
		}
	}
}

// bigVars are adversarial inputs of the kind the broker accepts: a
// string property of n bytes, a list longer than MaxIterations, a wide
// map, a deep list and a long list of numbers.
func bigVars(n int) *Vars {
	s := strings.Repeat("ab", n/2) + "é"
	list := make([]any, MaxIterations+1000)
	for i := range list {
		list[i] = "x"
	}
	wide := map[string]any{}
	for i := range 1000 {
		wide[fmt.Sprint("k", i)] = strings.Repeat("v", 100)
	}
	var deep any = "leaf"
	for range 500 {
		deep = []any{deep, 1.0}
	}
	nums := make([]any, 200_000)
	for i := range nums {
		nums[i] = float64(i)
	}
	return &Vars{
		Event: map[string]any{"name": "x", "properties": map[string]any{
			"s": s, "l": list, "m": wide, "deep": deep, "nums": nums, "n": 3.0, "pat": "a+",
		}},
		State: map[string]any{"items": []any{"a", "b"}},
		Now:   time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
	}
}

var bigInputs = sync.OnceValue(func() [4]*Vars {
	return [4]*Vars{bigVars(10), bigVars(10_000), bigVars(100_000), bigVars(1 << 20)}
})

// measure evaluates e and returns its result, its error, the bytes
// allocated and the time taken.
func measure(e *Expr, v *Vars) (any, error, uint64, time.Duration) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	out, err := e.Eval(v)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	return out, err, after.TotalAlloc - before.TotalAlloc, took
}

// maxEvalTime is far above what a bounded evaluation takes (milliseconds)
// and far below what an unbounded one does (minutes), so a loaded test
// machine does not make it flaky.
const maxEvalTime = 5 * time.Second

// checkBounded asserts what every evaluation must satisfy: no internal
// error (a panic in the guard or CEL), at most MaxExprMemory allocated,
// at most maxEvalTime taken.
func checkBounded(t *testing.T, src string, err error, alloc uint64, took time.Duration) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "internal error") {
		t.Errorf("%.200s: %v", src, err)
	}
	if raceEnabled {
		return
	}
	if alloc > MaxExprMemory {
		t.Errorf("%.200s: allocated %d MiB, over the %d MiB ceiling (err %v)", src, alloc>>20, MaxExprMemory>>20, err)
	}
	if took > maxEvalTime {
		t.Errorf("%.200s: took %v (err %v)", src, took, err)
	}
}

// Expressions that built gigabytes or ran for minutes before the guard
// now stop with a limit error, having allocated less than the ceiling.
func TestEvalMemoryLimits(t *testing.T) {
	doubling := func(depth int) string {
		// [s].map(v0, [v0 + v0].map(v1, ... size(vN) ...)): each scope
		// doubles the string, a bind chain by another name.
		var b strings.Builder
		b.WriteString("[event.properties.s]")
		for i := range depth {
			fmt.Fprintf(&b, ".map(v%d, [v%d + v%d]", i, i, i)
		}
		fmt.Fprintf(&b, ".map(v%d, size(v%d))", depth, depth)
		for range depth {
			b.WriteString(")")
		}
		return b.String()
	}
	optDoubling := func(depth int) string {
		var b strings.Builder
		b.WriteString("optional.of(event.properties.s)")
		for i := range depth {
			fmt.Fprintf(&b, ".optMap(v%d, v%d + v%d)", i, i, i)
		}
		b.WriteString(".orValue('').size() > 0")
		return b.String()
	}
	for _, tc := range []struct {
		src   string
		input int // index into bigInputs
	}{
		// The case, on a 100 KB and a 1 MB property.
		{`event.properties.s.replace("", event.properties.s).size() > 0`, 2},
		{`event.properties.s.replace("", event.properties.s).size() > 0`, 3},
		{`event.properties.s.replace("a", event.properties.s).size() > 0`, 2},
		{`event.properties.s.replace("", event.properties.s, 100000).size() > 0`, 2},
		{doubling(15), 2},
		{doubling(15), 0},
		{optDoubling(25), 1},
		{optDoubling(25), 3},
		// Across iterations: each builds a 2 MB string.
		{`event.properties.l.map(x, event.properties.s + event.properties.s).size() > 0`, 3},
		{`event.properties.l.filter(x, (event.properties.s + x).size() > 0).size() > 0`, 3},
		{`event.properties.l.exists(x, event.properties.s.lowerAscii() == x)`, 3},
		{`event.properties.l.all(x, event.properties.s.charAt(5) == 'b')`, 3},
		{`event.properties.l.all(x, event.properties.s.substring(1).size() > 0)`, 3},
		{`event.properties.l.map(x, [x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x]).size() > 0`, 0},
		{`event.properties.s.split('').join(event.properties.s).size() > 0`, 2},
		{`event.properties.s.split('').size() > 0`, 3},
		{`event.properties.l.map(x, event.properties.s.split('a')).size() > 0`, 3},
		{`'%s%s%s'.format([event.properties.s, event.properties.m, event.properties.deep]).size() > 0`, 3},
		{`event.properties.l.map(x, '%s'.format([event.properties.m])).size() > 0`, 1},
		{`event.properties.l.map(x, strings.quote(event.properties.s)).size() > 0`, 3},
		{`event.properties.l.map(x, event.properties.s.reverse()).size() > 0`, 3},
		// Quadratic time: naive search over runes.
		{`event.properties.s.indexOf(event.properties.s.substring(1000)) >= 0`, 3},
		{`event.properties.l.all(x, event.properties.s.lastIndexOf('zz') < 0)`, 3},
		// Lazy list doubling, then materialised.
		{`[event.properties.nums].map(a, [a + a].map(b, [b + b].map(c, [c + c].map(d, (d + d).map(x, x).size()))))`, 0},
		{`[event.properties.nums].map(a, [a + a].map(b, [b + b].map(c, [c + c].map(d, d + d))))`, 0},
		{`event.properties.nums + event.properties.nums + event.properties.nums`, 0},
		// Deep and wide equality and membership, repeated.
		{`event.properties.l.all(x, event.properties.nums == event.properties.nums)`, 0},
		{`event.properties.l.all(x, event.properties.deep == event.properties.deep)`, 0},
		{`event.properties.l.all(x, event.properties.m in [event.properties.m, event.properties.m])`, 0},
		{`event.properties.l.all(x, x in event.properties.nums)`, 0},
		{`event.properties.l.all(x, math.greatest(event.properties.nums) > 0.0)`, 0},
		{`event.properties.l.all(x, size(event.properties.s) > 0)`, 3},
		{`event.properties.l.all(x, double(event.properties.s) > 0.0)`, 3},
		{`event.properties.l.all(x, bytes(event.properties.s).size() > 0)`, 3},
		{`event.properties.l.all(x, event.properties.s.matches('a+b+c'))`, 3},
		{`event.properties.l.all(x, now.getHours('Europe/Berlin') >= 0)`, 0},
		{`event.properties.l.map(x, optional.unwrap([optional.of(event.properties.nums)])).size() > 0`, 0},
		// The whole input as the result.
		{`event.properties.?nums.orValue([])`, 0},
		{`event.properties.nums.map(x, x)`, 0},
	} {
		e, err := CompileExpr(tc.src)
		if err != nil {
			t.Errorf("%.80s: %v", tc.src, err)
			continue
		}
		out, err, alloc, took := measure(e, bigInputs()[tc.input])
		checkBounded(t, tc.src, err, alloc, took)
		if err == nil {
			t.Logf("%.80s: succeeded (%s), %d KiB, %v", tc.src, describe(out), alloc>>10, took)
			continue
		}
		if !errors.Is(err, ErrExprLimit) {
			t.Errorf("%.80s: %v, want a limit error", tc.src, err)
		}
		t.Logf("%.80s: %v, %d KiB, %v", tc.src, err, alloc>>10, took)
	}
}

// The guard is a check, not a change: on ordinary inputs a guarded
// expression gives what CEL alone gives.
func TestGuardedMatchesUnguarded(t *testing.T) {
	v := vars(t, props)
	v.Event["properties"].(map[string]any)["text"] = "Hello, wörld; hello again"
	for _, src := range []string{
		"'a' + 'b' + event.properties.name",
		"b'a' + b'b'",
		"state.items + [1, 2] + []",
		"event.properties.tags + event.properties.tags",
		"event.properties.text.replace('l', 'LL')",
		"event.properties.text.replace('', '-', 3)",
		"event.properties.text.replace('l', 'LL', -1)",
		"event.properties.text.split(' ')",
		"event.properties.text.split('', 4)",
		"event.properties.text.split(' ', 0)",
		"event.properties.text.split(' ', -1)",
		"event.properties.tags.join()",
		"event.properties.tags.join('-')",
		"'%s and %d and %.2f and %s'.format([event.properties.name, 3, 2.5, event.properties.tags])",
		"strings.quote(event.properties.text)",
		"event.properties.text.lowerAscii() + event.properties.text.upperAscii()",
		"event.properties.text.reverse()",
		"event.properties.text.charAt(8)",
		"event.properties.text.substring(3, 9)",
		"event.properties.text.indexOf('l') + event.properties.text.lastIndexOf('l', 20)",
		"event.properties.text.indexOf('wö')",
		"event.properties.text.matches('^H.*n$')",
		"matches(event.properties.text, 'x')",
		"size(event.properties.text) + event.properties.text.size() + size(event.properties.tags)",
		"event.properties.tags == ['a', 'b'] && event.properties.nested != {'x': 1}",
		"'a' in event.properties.tags && 'cart_id' in event.properties",
		"bytes(event.properties.text)",
		"string(b'abc')",
		"double('2.5') + double(int('3')) + double(uint('4'))",
		"timestamp(event.properties.when) + duration('1h')",
		"now.getHours('Europe/Berlin') + now.getHours()",
		"math.greatest(event.properties.tags.map(t, size(t))) + math.least([3, 1, 2])",
		"optional.unwrap([optional.of(1), optional.none()])",
		"[optional.of(1)].unwrapOpt()",
		"state.items.map(i, i.key + '!')",
		"event.properties.tags.filter(t, t != 'a')",
		"event.properties.text.split(' ').map(w, w.size())",
		"1 + 2 == 3 && 1.5 + 1.5 == 3.0",
		"event.properties.name + 1",
		"event.properties.tags.join(event.properties.count)",
		"event.properties.text.split(event.properties.count)",
		"event.properties.text.charAt(1000)",
	} {
		e, err := CompileExpr(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		got, gotErr := e.Eval(v)
		want, wantErr := unguarded(t, src, v)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: guarded %#v, %v; CEL alone %#v, %v", src, got, gotErr, want, wantErr)
		}
	}
}

// unguarded evaluates src with CEL alone.
func unguarded(t testing.TB, src string, v *Vars) (any, error) {
	t.Helper()
	env, err := celEnv()
	if err != nil {
		t.Fatal(err)
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		t.Fatal(iss.Err())
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := prg.Eval(map[string]any{
		varEvent: orEmpty(v.Event), varProfile: orEmpty(v.Profile), varFacts: orEmpty(v.Facts),
		varState: orEmpty(v.State), varReceipt: orEmpty(v.Receipt), varLookups: orEmpty(v.Lookups), varNow: v.Now,
	})
	if err != nil {
		return nil, err
	}
	return goValue(out, newBudget())
}

// What can be known before any input arrives is rejected when the
// expression is compiled, so when the journey is validated.
func TestCompileExprRejectsUnboundable(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"event.name.matches(event.properties.pattern)", "the pattern of matches must be a string literal"},
		{"matches(event.name, 'a' + 'b')", "the pattern of matches must be a string literal"},
		{`event.name.matches('[\\p{L}\\p{N}]{1000}x{1000}')`, "is too large"},
		{`event.name.matches('((((((((((a{10}){10}){10}){10}){10}){10}){10}){10}){10}){10})')`, "matches"},
		{"event.name.matches('(')", "matches: error parsing regexp"},
		{strings.Repeat("[", 70) + strings.Repeat("]", 70), "recursion"},
		{strings.Repeat("(", 70) + "1" + strings.Repeat(")", 70), "recursion"},
		{"event.name" + strings.Repeat(".lowerAscii()", 70), "recursion"},
		{"cel.bind(x, event.name, x + x)", "CEL error at"},
	} {
		_, err := CompileExpr(tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60s: %v, want an error containing %q", tc.src, err, tc.want)
		}
	}
	// Long chains are not deep.
	for _, src := range []string{
		"event.name == 'a'" + strings.Repeat(" || event.name == 'a'", 200),
		"1" + strings.Repeat(" + 1", 50) + " > 0",
		"event.name" + strings.Repeat(".lowerAscii()", 50),
	} {
		if _, err := CompileExpr(src); err != nil {
			t.Errorf("%.60s: %v", src, err)
		}
	}
	// A reasonable pattern compiles.
	if _, err := CompileExpr(`event.name.matches('^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$')`); err != nil {
		t.Error(err)
	}
}

// A limit hit is a LimitError, ErrExprLimit to errors.Is, naming the
// expression and the limit; so are the iteration and cost limits.
func TestLimitErrorIsTyped(t *testing.T) {
	v := bigInputs()[2]
	for src, want := range map[string]string{
		`event.properties.s.replace("", event.properties.s).size() > 0`:      "replace would take the evaluation over its 32 MiB memory budget",
		`event.properties.l.all(x, x == 'x')`:                                "more than 5000 iterations",
		`event.properties.l.exists(x, event.properties.s.contains(x + 'q'))`: "cost limit of 100000 exceeded",
	} {
		e, err := CompileExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Eval(v)
		var le *LimitError
		if !errors.Is(err, ErrExprLimit) || !errors.As(err, &le) || le.Expr != src || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a LimitError with %q", src, err, want)
		}
	}
	// An ordinary error is not a limit, and its text stays short even
	// when CEL quotes a huge value.
	e, _ := CompileExpr("int(event.properties.s) > 0")
	_, err := e.Eval(bigInputs()[3])
	if err == nil || errors.Is(err, ErrExprLimit) || len(err.Error()) > 2*maxErrorText {
		t.Errorf("int of 1 MB: %d bytes of error, limit %v", len(fmt.Sprint(err)), errors.Is(err, ErrExprLimit))
	}
}
