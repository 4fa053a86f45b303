package journey

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"

	"github.com/beckon-dev/beckon/pkg/records"
)

// CostLimit bounds the work of one evaluation, in CEL's cost units (about
// one per operation, one per list element a comprehension visits). An
// expression that would exceed it fails instead of stalling its partition.
const CostLimit = 100_000

// MaxIterations bounds the comprehension iterations (all, exists, map,
// filter, nested ones counted together) of one evaluation. CEL's cost
// tracking takes time quadratic in the iterations (cel-go v0.31: every
// iteration leaves values on its stack, which later steps search), so
// CostLimit alone would let a condition over a list of 30,000 event
// properties run for a second; at this bound it takes milliseconds.
const MaxIterations = 5_000

// spent is a context that is already done. Evaluated with it,
// cel.InterruptCheckFrequency(MaxIterations) interrupts an evaluation at
// its MaxIterations-th comprehension iteration: a bound that reads no
// clock, so a replay evaluates the same.
var spent = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// maxExprSize bounds an expression's source, in code points, so that
// parsing and checking stay cheap.
const maxExprSize = 10_000

// maxExprDepth bounds the depth of an expression's syntax tree (nested
// parentheses, literals and calls, and chains: a + b + c is two deep):
// evaluation recurses as deep, and parsing takes time that grows fast
// with it.
const maxExprDepth = 64

// The CEL variables. Validate limits which ones an expression may use by
// where it runs (the trigger has no state yet).
const (
	varEvent   = "event"
	varProfile = "profile"
	varFacts   = "facts"
	varState   = "state"
	varReceipt = "receipt"
	varLookups = "lookups"
	varNow     = "now"
)

// celEnv is built once: expressions are checked against the variables
// above, all dynamically typed maps but now, a timestamp, with CEL's
// standard library, optional values (a.?b.orValue(c)) and the strings and
// math extensions.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable(varEvent, cel.DynType),
		cel.Variable(varProfile, cel.DynType),
		cel.Variable(varFacts, cel.DynType),
		cel.Variable(varState, cel.DynType),
		cel.Variable(varReceipt, cel.DynType),
		cel.Variable(varLookups, cel.DynType),
		cel.Variable(varNow, cel.TimestampType),
		cel.OptionalTypes(),
		// lowerAscii, trim, split, replace, join, format...
		ext.Strings(),
		// math.greatest, math.least, math.ceil, math.round, math.abs...
		ext.Math(),
		// 1 < 2.5 type-checks; over dyn values the comparison is
		// heterogeneous anyway.
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(maxExprSize),
		cel.ParserRecursionLimit(maxExprDepth),
	)
})

// celGuard is the guard's dispatcher, built once from celEnv.
var celGuard = sync.OnceValues(func() (interpreter.Dispatcher, error) {
	env, err := celEnv()
	if err != nil {
		return nil, err
	}
	return guardDispatcher(env)
})

// Expr is a compiled CEL expression. It is safe for concurrent use.
type Expr struct {
	src string
	prg cel.Program
	// out is the type the checker inferred: dyn when it depends on the
	// inputs.
	out *cel.Type
	// vars are the variables the expression refers to.
	vars []string
	// path is set for a plain field selection (event.properties.cart_id):
	// the variable and the keys, evaluated by walking the maps, which
	// gives CEL's result and errors at a fraction of the cost.
	path []string
	// prop is set for a selection of one event property
	// (event.properties.cart_id): its name, read from the event's JSON
	// text when the Vars carry it (see Vars.props), without the parsed
	// map.
	prop string
}

// selection matches a plain field selection on a variable.
var selection = regexp.MustCompile(`^\s*(event|profile|facts|state|receipt|lookups)((\.[A-Za-z_][A-Za-z0-9_]*)+)\s*$`)

// walk evaluates a plain field selection.
func (e *Expr) walk(v *Vars) (any, error) {
	var cur any
	switch e.path[0] {
	case varEvent:
		cur = v.event()
	case varProfile:
		cur = v.Profile
	case varFacts:
		cur = v.Facts
	case varState:
		cur = v.State
	case varReceipt:
		cur = v.Receipt
	case varLookups:
		cur = v.Lookups
	}
	for _, k := range e.path[1:] {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("evaluate %q: no such key: %s", e.src, k)
		}
		if cur, ok = m[k]; !ok {
			return nil, fmt.Errorf("evaluate %q: no such key: %s", e.src, k)
		}
	}
	switch x := cur.(type) {
	case nil, bool, float64, string, time.Time, []any, map[string]any:
		return x, nil
	}
	// Anything else (an int in state, a nested type): let CEL convert it.
	return e.eval(v)
}

// CompileExpr parses and type-checks src. Its error says where in src the
// problem is, as line:column (both from 1).
func CompileExpr(src string) (*Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, celError(iss)
	}
	disp, err := celGuard()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	prg, err := env.Program(ast,
		// First among the decorators: see guard.go.
		cel.CustomDecoratorV2(guardDecorator(disp)),
		cel.CostLimit(CostLimit),
		cel.InterruptCheckFrequency(MaxIterations),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, fmt.Errorf("CEL error: %w", err)
	}
	e := &Expr{src: src, prg: prg, out: ast.OutputType()}
	if m := selection.FindStringSubmatch(src); m != nil {
		e.path = append([]string{m[1]}, strings.Split(m[2][1:], ".")...)
		if len(e.path) == 3 && e.path[0] == varEvent && e.path[1] == "properties" {
			e.prop = e.path[2]
		}
	}
	seen := map[string]bool{}
	for _, r := range ast.NativeRep().ReferenceMap() {
		switch r.Name {
		case varEvent, varProfile, varFacts, varState, varReceipt, varLookups, varNow:
			if !seen[r.Name] {
				seen[r.Name] = true
				e.vars = append(e.vars, r.Name)
			}
		}
	}
	slices.Sort(e.vars)
	return e, nil
}

var expecting = regexp.MustCompile(` expecting (\{.*\}|\S+)$`)

// celError turns the checker's issues into one error whose text starts
// with the first issue's position.
func celError(iss *cel.Issues) error {
	var parts []string
	for _, e := range iss.Errors() {
		msg := strings.TrimSuffix(e.Message, " (in container '')")
		// The parser's list of every token it could have accepted helps
		// no one.
		msg = expecting.ReplaceAllString(msg, "")
		parts = append(parts, fmt.Sprintf("%d:%d: %s", e.Location.Line(), e.Location.Column()+1, msg))
	}
	if len(parts) == 0 {
		return errors.New("CEL error: " + iss.String())
	}
	return errors.New("CEL error at " + strings.Join(parts, "; at "))
}

// Source returns the expression as written.
func (e *Expr) Source() string { return e.src }

// Vars are the inputs of an evaluation. Maps hold what encoding/json
// produces (numbers as float64) or int64, uint64, time.Time and nested
// []any and map[string]any; a nil map is empty.
type Vars struct {
	Event, Profile, Facts, State, Receipt map[string]any
	// Lookups holds a send step's named lookups (empty elsewhere).
	Lookups map[string]any
	Now     time.Time
	// lazyEvent, when set, builds Event on its first read (see event):
	// most expressions on an event read one property, which props gives
	// without the map.
	lazyEvent func() map[string]any
	// props is the event's properties as JSON text, when set: a property
	// selection reads its field from it (Expr.prop).
	props *eventProps
}

// eventProps is an event's properties text, checked on the first read of
// a property and shared by every expression on the event.
type eventProps struct {
	text    records.JSON
	checked bool
	fields  records.JSONFields
}

func (p *eventProps) field(name string) (v any, found, ok bool) {
	if !p.checked {
		p.fields, p.checked = p.text.Fields(), true
	}
	return p.fields.Field(name)
}

// event returns Event, built on first use when it is lazy.
func (v *Vars) event() map[string]any {
	if v.Event == nil && v.lazyEvent != nil {
		v.Event = v.lazyEvent()
	}
	return v.Event
}

// Eval evaluates the expression and returns its value as plain Go: nil,
// bool, int64, uint64, float64, string, []byte, time.Time, time.Duration,
// []any or map[string]any. A missing key, a type mismatch is an error;
// exceeding CostLimit, MaxIterations, MaxExprBytes or MaxExprWork is an
// error that is ErrExprLimit (errors.Is).
func (e *Expr) Eval(v *Vars) (any, error) {
	if v == nil {
		v = &Vars{}
	}
	if e.prop != "" && v.props != nil {
		// What walk gives on the parsed properties, unless the text is
		// one Field leaves to the full parse.
		if x, found, ok := v.props.field(e.prop); ok {
			if !found {
				return nil, fmt.Errorf("evaluate %q: no such key: %s", e.src, e.prop)
			}
			return x, nil
		}
	}
	if e.path != nil {
		return e.walk(v)
	}
	return e.eval(v)
}

// eval evaluates with CEL, with a fresh budget (see guard.go).
func (e *Expr) eval(v *Vars) (any, error) {
	b := newBudget()
	out, _, err := e.prg.ContextEval(spent, map[string]any{
		varEvent:   orEmpty(v.event()),
		varProfile: orEmpty(v.Profile),
		varFacts:   orEmpty(v.Facts),
		varState:   orEmpty(v.State),
		varReceipt: orEmpty(v.Receipt),
		varLookups: orEmpty(v.Lookups),
		varNow:     v.Now,
		budgetVar:  b,
	})
	var cancelled interpreter.EvalCancelledError
	switch {
	case err == nil:
	case errors.Is(err, interpreter.InterruptError{}):
		return nil, &LimitError{Expr: e.src, Reason: fmt.Sprintf("more than %d iterations", MaxIterations)}
	case errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded:
		return nil, &LimitError{Expr: e.src, Reason: fmt.Sprintf("cost limit of %d exceeded", CostLimit)}
	case errors.As(err, &cancelled) && cancelled.Cause == limitCause:
		return nil, &LimitError{Expr: e.src, Reason: cancelled.Message}
	default:
		return nil, fmt.Errorf("evaluate %q: %s", e.src, clip(err.Error()))
	}
	g, err := goValue(out, b)
	if err != nil {
		if errors.Is(err, ErrExprLimit) {
			return nil, &LimitError{Expr: e.src, Reason: err.Error()}
		}
		return nil, fmt.Errorf("evaluate %q: %s", e.src, clip(err.Error()))
	}
	return g, nil
}

// maxErrorText bounds the text of an evaluation error: CEL's messages can
// quote a value (int() of a 5 MB string quotes the string), and the text
// travels in an activity record.
const maxErrorText = 1000

func clip(s string) string {
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("... (%d bytes)", len(s))
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// Bool evaluates a condition.
func (e *Expr) Bool(v *Vars) (bool, error) {
	out, err := e.Eval(v)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("evaluate %q: got %s, want a bool", e.src, describe(out))
	}
	return b, nil
}

// String evaluates to a string; a number is formatted in decimal without
// an exponent (42, 3.5).
func (e *Expr) String(v *Vars) (string, error) {
	out, err := e.Eval(v)
	if err != nil {
		return "", err
	}
	switch x := out.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("evaluate %q: got %v, want a finite number", e.src, x)
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("evaluate %q: got %s, want a string or a number", e.src, describe(out))
}

// Time evaluates to an instant: a timestamp, an RFC 3339 string, or a
// number of seconds since the Unix epoch.
func (e *Expr) Time(v *Vars) (time.Time, error) {
	out, err := e.Eval(v)
	if err != nil {
		return time.Time{}, err
	}
	switch x := out.(type) {
	case time.Time:
		return x, nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return time.Time{}, fmt.Errorf("evaluate %q: %q is not an RFC 3339 time", e.src, x)
		}
		return t, nil
	case int64:
		return time.Unix(x, 0).UTC(), nil
	case uint64:
		if x > math.MaxInt64 {
			break
		}
		return time.Unix(int64(x), 0).UTC(), nil
	case float64:
		// Beyond ±2^62 seconds a time.Time cannot hold it.
		if math.IsNaN(x) || math.Abs(x) > 1<<62 {
			break
		}
		sec, frac := math.Modf(x)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("evaluate %q: got %s, want a timestamp, an RFC 3339 string or Unix seconds", e.src, describe(out))
}

// goValue converts a CEL value to plain Go, charging b for the lists and
// maps it builds and the CEL values it unwraps on the way (a lazily
// concatenated list is only built here; an input map returned 5,000
// times by map() is copied 5,000 times).
func goValue(v ref.Val, b *budget) (any, error) {
	switch x := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(x), nil
	case types.Int:
		return int64(x), nil
	case types.Uint:
		return uint64(x), nil
	case types.Double:
		return float64(x), nil
	case types.String:
		return string(x), nil
	case types.Bytes:
		return []byte(x), nil
	case types.Timestamp:
		return x.Time, nil
	case types.Duration:
		return x.Duration, nil
	case *types.Optional:
		if !x.HasValue() {
			return nil, nil
		}
		return goValue(x.GetValue(), b)
	case *types.Err:
		return nil, x
	case traits.Mapper:
		out := map[string]any{}
		for it := x.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			if err := b.take(2*visitBytes, elemWork/8, "the result"); err != nil {
				return nil, limitErr{err}
			}
			val, err := goValue(x.Get(k), b)
			if err != nil {
				return nil, err
			}
			key, err := goValue(k, b)
			if err != nil {
				return nil, err
			}
			s, ok := key.(string)
			if !ok {
				s = fmt.Sprint(key)
			}
			out[s] = val
		}
		return out, nil
	case traits.Lister:
		var out []any
		for it := x.Iterator(); it.HasNext() == types.True; {
			if err := b.take(visitBytes, elemWork/8, "the result"); err != nil {
				return nil, limitErr{err}
			}
			val, err := goValue(it.Next(), b)
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %s has no plain Go value", v.Type())
}

// limitErr is a budget error that is ErrExprLimit.
type limitErr struct{ error }

func (limitErr) Is(target error) bool { return target == ErrExprLimit }

// describe names a plain Go value's kind for an error message.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("a bool (%v)", x)
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return fmt.Sprintf("a string (%q)", x)
	case int64, uint64, float64:
		return fmt.Sprintf("a number (%v)", x)
	case time.Time:
		return "a timestamp"
	case time.Duration:
		return "a duration"
	case []byte:
		return "bytes"
	case []any:
		return "a list"
	case map[string]any:
		return "a map"
	}
	return fmt.Sprintf("a %T", v)
}
