package journey

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/functions"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/overloads"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"
)

// CEL's cost limit is checked after a function returns, so one call can
// allocate and compute far beyond it first: a 100 KB property turned into
// a 10 GB string by replace("", s) killed the process before the limit
// was looked at. The guard below checks every function whose memory or
// time depends on the size of its arguments BEFORE it runs, against a
// budget that one evaluation shares across all its calls, comprehension
// iterations and nested scopes.

const (
	// MaxExprBytes bounds what the functions and literals of one
	// evaluation may produce (strings, lists, maps, and the garbage they
	// leave, such as the rune copies of charAt), counted before each is
	// built. With CEL's own bookkeeping, which CostLimit bounds, one
	// evaluation allocates less than MaxExprMemory in all.
	MaxExprBytes = 32 << 20
	// MaxExprMemory is the ceiling on what one evaluation allocates, the
	// figure the fuzz test holds every evaluation to.
	MaxExprMemory = 64 << 20
	// MaxExprWork bounds the work of the size-dependent functions of one
	// evaluation, in units of about a byte scanned (visiting a list
	// element or map entry counts elemWork): tens of milliseconds.
	// CostLimit and MaxIterations bound the rest.
	MaxExprWork = 64 << 20
	// maxRegexSize bounds a matches pattern's program, in instructions
	// (estimated from its syntax before it is compiled): a regular
	// expression costs time in proportion to it for every byte matched.
	maxRegexSize = 2_000
)

const (
	// elemBytes is charged per list element or map entry produced or
	// visited: an interface slot and a boxed scalar.
	elemBytes = 32
	// visitBytes is charged per element a walk over a value visits: CEL
	// wraps every nested list and map it reaches (about a hundred
	// bytes), and the guard's walk does so too.
	visitBytes = 4 * elemBytes
	// elemWork is the work of visiting one element: wrapping and
	// comparing it takes about as long as scanning 512 bytes.
	elemWork = 512
	// tzBytes and tzWork are charged per time zone a get* function loads
	// (time.LoadLocation reads and parses the zone every call: about 10
	// to 40 KB and 100 µs).
	tzBytes = 64 << 10
	tzWork  = 256 << 10
)

// ErrExprLimit is what every error of an evaluation stopped by a limit
// is (errors.Is): the memory or work budget, CostLimit, MaxIterations.
// It is permanent: the same inputs hit it again, so it is recorded for
// the instance, never retried.
var ErrExprLimit = errors.New("expression limit exceeded")

// LimitError is an evaluation stopped by a limit.
type LimitError struct {
	// Expr is the expression's source.
	Expr string
	// Reason says which limit and, where known, which function hit it.
	Reason string
}

func (e *LimitError) Error() string { return fmt.Sprintf("evaluate %q: %s", e.Expr, e.Reason) }

// Is makes errors.Is(err, ErrExprLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrExprLimit }

// budget is what is left to one evaluation. It travels in the activation
// under budgetVar, a name no expression can write (the parser rejects
// '@'), so nested comprehension scopes find the same budget.
type budget struct {
	bytes, work int64
}

const budgetVar = "@budget"

func newBudget() *budget { return &budget{bytes: MaxExprBytes, work: MaxExprWork} }

// limitCause marks a CEL evaluation cancelled by the guard; the message
// says why.
const limitCause interpreter.CancellationCause = 1 << 20

// take spends bytes and work, or says which limit fn would break.
func (b *budget) take(bytes, work int64, fn string) error {
	b.bytes -= bytes
	b.work -= work
	switch {
	case b.bytes < 0:
		return fmt.Errorf("%s would take the evaluation over its %d MiB memory budget", fn, MaxExprBytes>>20)
	case b.work < 0:
		return fmt.Errorf("%s would take the evaluation over its work budget (%d units)", fn, MaxExprWork)
	}
	return nil
}

// must spends bytes and work or cancels the evaluation: a limit is never
// a value that || or exists could absorb.
func (b *budget) must(bytes, work int64, fn string) {
	if err := b.take(bytes, work, fn); err != nil {
		panic(interpreter.EvalCancelledError{Cause: limitCause, Message: err.Error()})
	}
}

// budgetOf finds the evaluation's budget. Without one (CEL folds a
// constant conversion at plan time with an empty activation) the call is
// over constants and gets a budget of its own.
func budgetOf(a interpreter.Activation) *budget {
	if v, ok := a.ResolveName(budgetVar); ok {
		if b, ok := v.(*budget); ok {
			return b
		}
	}
	return newBudget()
}

// mul multiplies sizes, saturating instead of overflowing.
func mul(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > (1<<62)/b {
		return 1 << 62
	}
	return a * b
}

// guard charges a call's cost before it runs; it panics (via must) when
// the budget cannot pay.
type guard func(b *budget, fn string, args []ref.Val)

// guards are the functions whose memory or time grows with their
// arguments, by name (the checker often cannot pick an overload over dyn
// inputs, so the guard looks at the values). safeFunctions lists every
// other function of the environment and why it needs none; a test
// checks that the two cover the environment, so a new function or
// extension cannot arrive unguarded.
var guards = map[string]guard{
	operators.Add:               guardAdd,
	operators.Equals:            guardEquality,
	operators.NotEquals:         guardEquality,
	operators.In:                guardIn,
	operators.OldIn:             guardIn,
	overloads.DeprecatedIn:      guardIn,
	overloads.Size:              guardSize,
	overloads.TypeConvertBytes:  guardCopy,
	overloads.TypeConvertString: guardCopy,
	// Parsing a string scans it (and the error message quotes it).
	overloads.TypeConvertBool:      guardScan,
	overloads.TypeConvertDouble:    guardScan,
	overloads.TypeConvertInt:       guardScan,
	overloads.TypeConvertUint:      guardScan,
	overloads.TypeConvertDuration:  guardScan,
	overloads.TypeConvertTimestamp: guardScan,
	// Replaced by one that knows the compiled pattern: see guardRegex.
	overloads.Matches: guardScan,
	// The strings extension converts the whole string to runes.
	"charAt":        guardRunes,
	"lowerAscii":    guardRunes,
	"upperAscii":    guardRunes,
	"reverse":       guardRunes,
	"substring":     guardRunes,
	"indexOf":       guardSearch,
	"lastIndexOf":   guardSearch,
	"replace":       guardReplace,
	"split":         guardSplit,
	"join":          guardJoin,
	"format":        guardFormat,
	"strings.quote": guardQuote,
	// optional.unwrap copies a list.
	"optional.unwrap": guardListVisit,
	"unwrapOpt":       guardListVisit,
	// math.greatest(list) visits every element.
	"math.@max": guardListVisit,
	"math.@min": guardListVisit,
	// With a time zone, these load it.
	overloads.TimeGetFullYear:     guardTimeZone,
	overloads.TimeGetMonth:        guardTimeZone,
	overloads.TimeGetDayOfYear:    guardTimeZone,
	overloads.TimeGetDayOfMonth:   guardTimeZone,
	overloads.TimeGetDate:         guardTimeZone,
	overloads.TimeGetDayOfWeek:    guardTimeZone,
	overloads.TimeGetHours:        guardTimeZone,
	overloads.TimeGetMinutes:      guardTimeZone,
	overloads.TimeGetSeconds:      guardTimeZone,
	overloads.TimeGetMilliseconds: guardTimeZone,
}

// unguardedOverloads are overloads of guarded functions that the guard
// can skip when the checker picked them: fixed-size values.
var unguardedOverloads = map[string]bool{
	overloads.AddInt64: true, overloads.AddUint64: true, overloads.AddDouble: true,
	overloads.AddDurationDuration: true, overloads.AddDurationTimestamp: true, overloads.AddTimestampDuration: true,
	overloads.SizeList: true, overloads.SizeListInst: true, overloads.SizeMap: true, overloads.SizeMapInst: true,
	overloads.SizeBytes: true, overloads.SizeBytesInst: true,
}

// safeFunctions are the environment's functions whose time and memory do
// not depend on the size of their arguments, or that CEL's cost tracking
// charges in proportion to their linear work after each call (one call
// then costs at most one pass over an input the broker accepted).
var safeFunctions = map[string]string{
	operators.LogicalNot: "bool", operators.Negate: "number", operators.NotStrictlyFalse: "bool",
	operators.OldNotStrictlyFalse: "bool",
	operators.Modulo:              "number", operators.Multiply: "number", operators.Divide: "number", operators.Subtract: "number, time",
	operators.LogicalAnd: "bool", operators.LogicalOr: "bool", operators.Conditional: "selects a value",
	operators.Less: "linear, cost-tracked", operators.LessEquals: "linear, cost-tracked",
	operators.Greater: "linear, cost-tracked", operators.GreaterEquals: "linear, cost-tracked",
	operators.OptSelect: "map lookup", operators.OptIndex: "lookup", operators.Index: "lookup",
	"contains": "linear, cost-tracked", "startsWith": "linear, cost-tracked", "endsWith": "linear, cost-tracked",
	"trim": "a substring, no copy; cost-tracked",
	"dyn":  "identity", "type": "a type",
	"first": "one element", "last": "one element",
	"hasValue": "bool", "value": "unwraps", "or": "selects", "orValue": "selects",
	"optional.none": "constant", "optional.of": "wraps", "optional.ofNonZeroValue": "wraps",
	"math.abs": "number", "math.bitAnd": "number", "math.bitNot": "number", "math.bitOr": "number",
	"math.bitShiftLeft": "number", "math.bitShiftRight": "number", "math.bitXor": "number",
	"math.ceil": "number", "math.floor": "number", "math.isFinite": "bool", "math.isInf": "bool",
	"math.isNaN": "bool", "math.round": "number", "math.sign": "number", "math.sqrt": "number", "math.trunc": "number",
}

// guardDecorator replaces every call of a guarded function with one that
// evaluates the arguments, charges the budget and only then calls the
// function, and charges every list and map literal for its elements.
// It comes first among the decorators; the call it returns still reports
// its function, overload and arguments, so CEL's cost tracking sees it.
func guardDecorator(disp interpreter.Dispatcher) interpreter.InterpretableDecoratorV2 {
	return func(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
		switch n := i.(type) {
		case interpreter.InterpretableConstructor:
			if size := int64(len(n.InitVals())); size > 0 {
				return &guardedLiteral{InterpretableConstructor: n, size: size}, nil
			}
			return i, nil
		case interpreter.InterpretableCall:
			return guardCall(disp, n)
		}
		return i, nil
	}
}

func guardCall(disp interpreter.Dispatcher, c interpreter.InterpretableCall) (interpreter.InterpretableV2, error) {
	fn, ov := c.Function(), c.OverloadID()
	g, ok := guards[fn]
	if !ok || unguardedOverloads[ov] {
		return c, nil
	}
	args := c.Args()
	if len(args) == 0 {
		return c, nil
	}
	gc := &guardedCall{id: c.ID(), function: fn, overload: ov, args: args, guard: g}
	switch fn {
	case operators.Equals:
		gc.call = func(v []ref.Val) ref.Val { return types.Equal(v[0], v[1]) }
		return gc, nil
	case operators.NotEquals:
		gc.call = func(v []ref.Val) ref.Val { return types.Bool(types.Equal(v[0], v[1]) != types.True) }
		return gc, nil
	case overloads.Matches:
		return guardRegex(gc)
	}
	// Resolve the implementation as CEL's planner does: by overload, else
	// by function (which dispatches on the values' types).
	var impl *functions.Overload
	if ov != "" {
		impl, _ = disp.FindOverload(ov)
	}
	if impl == nil {
		impl, _ = disp.FindOverload(fn)
	}
	if impl != nil && (impl.NonStrict || impl.Async != nil) {
		return nil, fmt.Errorf("guard: %s is non-strict or asynchronous, which the guard does not handle", fn)
	}
	gc.call = dispatch(fn, ov, impl)
	return gc, nil
}

// dispatch calls impl as CEL's evalUnary, evalBinary and evalVarArgs do.
func dispatch(fn, ov string, impl *functions.Overload) func([]ref.Val) ref.Val {
	return func(v []ref.Val) ref.Val {
		arg0 := v[0]
		if impl != nil && (impl.OperandTrait == 0 || arg0.Type().HasTrait(impl.OperandTrait)) {
			switch {
			case len(v) == 1 && impl.Unary != nil:
				return impl.Unary(arg0)
			case len(v) == 2 && impl.Binary != nil:
				return impl.Binary(arg0, v[1])
			case impl.Function != nil:
				return impl.Function(v...)
			}
		}
		if arg0.Type().HasTrait(traits.ReceiverType) {
			return arg0.(traits.Receiver).Receive(fn, ov, v[1:])
		}
		return types.NewErr("no such overload: %s", fn)
	}
}

// guardRegex compiles a matches pattern once, after checking its size:
// the pattern must be a literal (a pattern from the data could take any
// time and memory to compile). The compiled program hides the literal
// from CEL's own regex optimiser, which would replace the guarded call.
func guardRegex(gc *guardedCall) (interpreter.InterpretableV2, error) {
	if len(gc.args) != 2 {
		return nil, errors.New("matches takes a string and a pattern")
	}
	lit, ok := gc.args[1].(interpreter.InterpretableConst)
	var pattern types.String
	if ok {
		pattern, ok = lit.Value().(types.String)
	}
	if !ok {
		return nil, errors.New("the pattern of matches must be a string literal")
	}
	re, size, err := compileRegex(string(pattern))
	if err != nil {
		return nil, err
	}
	gc.args = []interpreter.InterpretableV2{gc.args[0], opaque{gc.args[1]}}
	// Go's matcher takes up to a few steps per instruction and byte.
	gc.guard = func(b *budget, fn string, v []ref.Val) {
		if n := strLen(v[0]); n >= 0 {
			b.must(0, mul(n+1, size)*4, fn)
		}
	}
	gc.call = func(v []ref.Val) ref.Val {
		s, ok := v[0].(types.String)
		if !ok {
			return types.MaybeNoSuchOverloadErr(v[0])
		}
		return types.Bool(re.MatchString(string(s)))
	}
	return gc, nil
}

// compileRegex compiles pattern if its estimated program is at most
// maxRegexSize instructions. The estimate comes from the parsed syntax,
// before compiling expands repetitions (a{1000}{1000} is rejected by the
// parser; a{1000} of a big class is not, and Go's own ceiling is about
// 128 MB of program).
func compileRegex(pattern string) (*regexp.Regexp, int64, error) {
	parsed, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, 0, fmt.Errorf("matches: %w", err)
	}
	size := regexSize(parsed)
	if size > maxRegexSize {
		return nil, 0, fmt.Errorf("matches: pattern %.40q is too large (about %d instructions, at most %d)", pattern, size, maxRegexSize)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, 0, fmt.Errorf("matches: %w", err)
	}
	return re, size, nil
}

// regexSize over-estimates the instructions a parsed pattern compiles to.
func regexSize(re *syntax.Regexp) int64 {
	switch re.Op {
	case syntax.OpLiteral:
		return int64(len(re.Rune)) + 1
	case syntax.OpCharClass:
		return 1 + int64(len(re.Rune))/2
	case syntax.OpRepeat:
		n := int64(max(re.Min, re.Max))
		if re.Max < 0 {
			n = int64(re.Min) + 1
		}
		return mul(n+1, regexSize(re.Sub[0])+1)
	}
	size := int64(2)
	for _, sub := range re.Sub {
		size += regexSize(sub)
	}
	return size
}

// opaque hides that a node is a constant.
type opaque struct{ interpreter.InterpretableV2 }

// guardedCall is a call whose cost is charged before it runs.
type guardedCall struct {
	id       int64
	function string
	overload string
	args     []interpreter.InterpretableV2
	guard    guard
	call     func([]ref.Val) ref.Val
}

// Exec evaluates the arguments (strictly: the first error or unknown is
// the result, as for CEL's own calls), charges, then calls.
func (g *guardedCall) Exec(f *interpreter.ExecutionFrame) ref.Val {
	vals := make([]ref.Val, len(g.args))
	for i, a := range g.args {
		v := a.Exec(f)
		if types.IsUnknownOrError(v) {
			return v
		}
		vals[i] = v
	}
	g.guard(budgetOf(f), g.function, vals)
	return types.LabelErrNode(g.id, g.call(vals))
}

func (g *guardedCall) Eval(a interpreter.Activation) ref.Val {
	return g.Exec(interpreter.AsFrame(a))
}
func (g *guardedCall) ID() int64                           { return g.id }
func (g *guardedCall) Function() string                    { return g.function }
func (g *guardedCall) OverloadID() string                  { return g.overload }
func (g *guardedCall) Args() []interpreter.InterpretableV2 { return g.args }

// guardedLiteral is a list or map literal charged for its elements each
// time it is built (a literal inside a comprehension is built on every
// iteration, and a literal of constants costs CEL nothing).
type guardedLiteral struct {
	interpreter.InterpretableConstructor
	size int64
}

func (l *guardedLiteral) Exec(f *interpreter.ExecutionFrame) ref.Val {
	budgetOf(f).must(l.size*elemBytes, l.size*elemWork, "a literal")
	return l.InterpretableConstructor.Exec(f)
}

func (l *guardedLiteral) Eval(a interpreter.Activation) ref.Val {
	return l.Exec(interpreter.AsFrame(a))
}

// strLen is the length of a string or bytes value, -1 for anything else.
func strLen(v ref.Val) int64 {
	switch x := v.(type) {
	case types.String:
		return int64(len(x))
	case types.Bytes:
		return int64(len(x))
	}
	return -1
}

func listLen(v ref.Val) int64 {
	if l, ok := v.(traits.Lister); ok {
		if n, ok := l.Size().(types.Int); ok {
			return int64(n)
		}
	}
	return -1
}

// guardAdd: string and bytes concatenation copy both; list concatenation
// is a lazy view in CEL, charged as the list it may become (a
// comprehension's accumulator is appended to in place and is charged for
// what is appended).
func guardAdd(b *budget, fn string, v []ref.Val) {
	if len(v) != 2 {
		return
	}
	if l, r := strLen(v[0]), strLen(v[1]); l >= 0 && r >= 0 {
		b.must(l+r, l+r, fn)
		return
	}
	r := listLen(v[1])
	if r < 0 {
		return
	}
	if _, inPlace := v[0].(traits.MutableLister); inPlace {
		b.must(r*elemBytes, r*elemWork, fn)
		return
	}
	if l := listLen(v[0]); l >= 0 {
		b.must((l+r)*elemBytes, elemWork, fn)
	}
}

// visit charges for walking v as CEL's deep equality, formatting and
// joining do: every element and entry, every byte of its strings. It
// charges as it goes, so it stops as soon as the budget is spent.
// strBytes is what a string's bytes cost in memory (0 when the walk only
// reads them); it returns the bytes the walk charged.
func (b *budget) visit(v ref.Val, fn string, strBytes, scalarBytes int64) int64 {
	var spent int64
	var walk func(v ref.Val)
	walk = func(v ref.Val) {
		switch x := v.(type) {
		case types.String, types.Bytes:
			n := strLen(x)
			b.must(mul(n, strBytes), n, fn)
			spent += mul(n, strBytes)
		case traits.Mapper:
			for it := x.Iterator(); it.HasNext() == types.True; {
				k := it.Next()
				b.must(2*visitBytes, elemWork, fn)
				spent += 2 * visitBytes
				walk(k)
				walk(x.Get(k))
			}
		case traits.Lister:
			n := listLen(x)
			for i := int64(0); i < n; i++ {
				b.must(visitBytes, elemWork, fn)
				spent += visitBytes
				walk(x.Get(types.Int(i)))
			}
		default:
			b.must(scalarBytes, 1, fn)
			spent += scalarBytes
		}
	}
	walk(v)
	return spent
}

func aggregate(v ref.Val) bool {
	switch v.(type) {
	case traits.Lister, traits.Mapper:
		return true
	}
	return false
}

// guardEquality: CEL compares lists and maps element by element once
// their sizes agree. Strings and scalars compare in linear time that
// CEL's cost tracking charges.
func guardEquality(b *budget, fn string, v []ref.Val) {
	if len(v) != 2 || !aggregate(v[0]) || !aggregate(v[1]) {
		return
	}
	if listLen(v[0]) != listLen(v[1]) {
		return
	}
	if m, ok := v[0].(traits.Mapper); ok {
		if n, ok := v[1].(traits.Mapper); !ok || m.Size() != n.Size() {
			return
		}
	}
	b.visit(v[0], fn, 0, 0)
}

// guardIn: x in list compares x with every element.
func guardIn(b *budget, fn string, v []ref.Val) {
	if len(v) != 2 {
		return
	}
	n := listLen(v[1])
	if n < 0 {
		// in a map: one lookup, hashing the key.
		if k := strLen(v[0]); k > 0 {
			b.must(0, k, fn)
		}
		return
	}
	each := int64(elemWork)
	if aggregate(v[0]) {
		before := b.work
		b.visit(v[0], fn, 0, 0)
		each += before - b.work
	} else if k := strLen(v[0]); k > 0 {
		each += k
	}
	b.must(n*visitBytes, mul(n, each), fn)
}

// guardSize: the size of a string counts its code points.
func guardSize(b *budget, fn string, v []ref.Val) {
	if s, ok := v[0].(types.String); ok {
		b.must(0, int64(len(s)), fn)
	}
}

// guardCopy: bytes(string) and string(bytes) copy.
func guardCopy(b *budget, fn string, v []ref.Val) {
	if n := strLen(v[0]); n > 0 {
		b.must(n, n, fn)
	}
}

// guardScan: parsing scans the string.
func guardScan(b *budget, fn string, v []ref.Val) {
	for _, x := range v {
		if n := strLen(x); n > 0 {
			b.must(0, n, fn)
		}
	}
}

// guardRunes: the strings extension copies the string into runes (four
// bytes each) and builds the result from them.
func guardRunes(b *budget, fn string, v []ref.Val) {
	if n := strLen(v[0]); n > 0 {
		b.must(5*n, n, fn)
	}
}

// guardSearch: indexOf and lastIndexOf copy both strings into runes and
// compare naively, up to (n-m+1)*m steps.
func guardSearch(b *budget, fn string, v []ref.Val) {
	if len(v) < 2 {
		return
	}
	n, m := strLen(v[0]), strLen(v[1])
	if n < 0 || m < 0 {
		return
	}
	b.must(4*(n+m), n+mul(max(n-m+1, 0), m), fn)
}

// occurrences counts the matches of sep in s that replace or split would
// act on, given their optional limit (negative: all).
func occurrences(s, sep string, limit int64) int64 {
	var n int64
	if sep == "" {
		n = int64(utf8.RuneCountInString(s)) + 1
	} else {
		n = int64(strings.Count(s, sep))
	}
	if limit >= 0 && limit < n {
		n = limit
	}
	return n
}

// guardReplace computes the exact length of the result.
func guardReplace(b *budget, fn string, v []ref.Val) {
	if len(v) < 3 {
		return
	}
	s, ok1 := v[0].(types.String)
	old, ok2 := v[1].(types.String)
	repl, ok3 := v[2].(types.String)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	limit := int64(-1)
	if len(v) == 4 {
		if l, ok := v[3].(types.Int); ok {
			limit = int64(l)
		}
	}
	b.must(0, int64(len(s)), fn) // the count below scans s
	n := occurrences(string(s), string(old), limit)
	out := int64(len(s))
	if grow := int64(len(repl)) - int64(len(old)); grow > 0 {
		out += mul(n, grow)
	}
	b.must(out, out, fn)
}

// guardSplit: one string header and one CEL value per piece.
func guardSplit(b *budget, fn string, v []ref.Val) {
	if len(v) < 2 {
		return
	}
	s, ok1 := v[0].(types.String)
	sep, ok2 := v[1].(types.String)
	if !ok1 || !ok2 {
		return
	}
	limit := int64(-1)
	if len(v) == 3 {
		if l, ok := v[2].(types.Int); ok {
			if l == 0 {
				return
			}
			limit = int64(l)
		}
	}
	b.must(0, int64(len(s)), fn)
	n := occurrences(string(s), string(sep), limit)
	if sep != "" && (limit < 0 || n < limit) {
		n++
	}
	b.must(n*(16+elemBytes), n*elemWork, fn)
}

// guardJoin: the result is the elements and the separators; a builder may
// allocate twice that on the way.
func guardJoin(b *budget, fn string, v []ref.Val) {
	l, ok := v[0].(traits.Lister)
	if !ok {
		return
	}
	var sep int64
	if len(v) == 2 {
		sep = max(strLen(v[1]), 0)
	}
	n := listLen(l)
	var total int64
	for i := int64(0); i < n; i++ {
		b.must(elemBytes, elemWork, fn)
		total += max(strLen(l.Get(types.Int(i))), 0) + sep
	}
	b.must(2*total, total, fn)
}

// guardFormat bounds the result by the format string and the printed
// size of every argument: a string at most ten bytes a byte (quoted or
// in hex), a number at most 512 (precision is capped at 100), and each
// element of a list or map its brackets and separators. A builder may
// allocate twice that.
func guardFormat(b *budget, fn string, v []ref.Val) {
	if len(v) != 2 {
		return
	}
	out := max(strLen(v[0]), 0) + b.visit(v[1], fn, 10, 512)
	b.must(2*out, out, fn)
}

// guardQuote: sanitising, escaping and quoting copy the string several
// times, each through a builder.
func guardQuote(b *budget, fn string, v []ref.Val) {
	if n := strLen(v[0]); n >= 0 {
		b.must(32*n+16, n, fn)
	}
}

// guardListVisit: functions that visit or copy every element of a list
// argument.
func guardListVisit(b *budget, fn string, v []ref.Val) {
	if n := listLen(v[0]); n > 0 {
		b.must(n*elemBytes, n*elemWork, fn)
	}
}

// guardTimeZone: getHours('Europe/Berlin') loads the zone on every call.
func guardTimeZone(b *budget, fn string, v []ref.Val) {
	if len(v) == 2 {
		b.must(tzBytes+max(strLen(v[1]), 0), tzWork, fn)
	}
}

// guardDispatcher builds the dispatcher guarded calls resolve their
// implementations with, from the environment's functions as CEL does.
func guardDispatcher(env *cel.Env) (interpreter.Dispatcher, error) {
	var bindings []*functions.Overload
	for _, fn := range env.Functions() {
		bs, err := fn.Bindings()
		if err != nil {
			return nil, err
		}
		bindings = append(bindings, bs...)
	}
	d := interpreter.NewDispatcher()
	if err := d.Add(bindings...); err != nil {
		return nil, err
	}
	return d, nil
}
