package journey

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// exprGen builds an expression from fuzz bytes by a grammar of what can
// grow or loop: concatenation, the strings extension, literals, equality
// and membership, comprehensions and optMap scopes that bind a value
// (CEL's way to double a string again and again), over the adversarial
// properties of bigVars.
type exprGen struct {
	b     []byte
	scope []string
}

func (g *exprGen) next() int {
	if len(g.b) == 0 {
		return 0
	}
	c := int(g.b[0])
	g.b = g.b[1:]
	return c
}

var genLeaves = []string{
	"event.properties.s", "event.properties.l", "event.properties.m", "event.properties.deep",
	"event.properties.nums", "event.name", "''", "'ab'", "[]", "1", "2.5", "state.items",
}

func (g *exprGen) expr(depth int) string {
	c := g.next()
	if depth > 6 || c < 40 {
		if len(g.scope) > 0 && c%3 == 0 {
			return g.scope[c%len(g.scope)]
		}
		return genLeaves[c%len(genLeaves)]
	}
	a := func() string { return g.expr(depth + 1) }
	bind := func(f func(v string) string) string {
		v := fmt.Sprintf("v%d", len(g.scope))
		g.scope = append(g.scope, v)
		defer func() { g.scope = g.scope[:len(g.scope)-1] }()
		return f(v)
	}
	switch c % 24 {
	case 0:
		return "(" + a() + " + " + a() + ")"
	case 1:
		return a() + ".replace(" + a() + ", " + a() + ")"
	case 2:
		return a() + ".split(" + a() + ")"
	case 3:
		return a() + ".join(" + a() + ")"
	case 4:
		return "'%s%s'.format([" + a() + ", " + a() + "])"
	case 5:
		return "strings.quote(" + a() + ")"
	case 6:
		return a() + [...]string{".lowerAscii()", ".upperAscii()", ".reverse()", ".substring(1)", ".charAt(1)", ".trim()"}[c%6]
	case 7:
		return a() + ".indexOf(" + a() + ")"
	case 8:
		return "[" + a() + ", " + a() + ", " + a() + "]"
	case 9:
		return "{'k': " + a() + ", 'j': " + a() + "}"
	case 10:
		src := a()
		return bind(func(v string) string { return "[" + src + "].map(" + v + ", " + g.expr(depth+1) + ")" })
	case 11:
		src := a()
		return bind(func(v string) string {
			return "optional.of(" + src + ").optMap(" + v + ", " + g.expr(depth+1) + ").orValue('')"
		})
	case 12:
		src := a()
		return bind(func(v string) string { return src + ".map(" + v + ", " + g.expr(depth+1) + ")" })
	case 13:
		src := a()
		return bind(func(v string) string { return src + ".filter(" + v + ", size(" + g.expr(depth+1) + ") > 0)" })
	case 14:
		src := a()
		return bind(func(v string) string { return src + ".exists(" + v + ", " + g.expr(depth+1) + " == " + v + ")" })
	case 15:
		return "(" + a() + " == " + a() + ")"
	case 16:
		return "(" + a() + " in " + a() + ")"
	case 17:
		return "size(" + a() + ")"
	case 18:
		return [...]string{"string(", "bytes(", "double(", "int(", "timestamp("}[c%5] + a() + ")"
	case 19:
		return a() + ".matches('a+b')"
	case 20:
		return "math.greatest(" + a() + ")"
	case 21:
		return "optional.unwrap([optional.of(" + a() + ")])"
	case 22:
		return a() + ".replace('', " + a() + ")"
	default:
		return "(" + a() + " + " + a() + " + " + a() + " + " + a() + ")"
	}
}

// FuzzExprLimits evaluates adversarial expressions (the fuzzer's own
// source if it compiles, else one exprGen builds from its bytes) over adversarial
// inputs, and holds every evaluation to the limits: it succeeds or fails
// with an ordinary or limit error (never a panic), allocates at most
// MaxExprMemory and ends in bounded time. The seeds, which go test runs
// as a regular test, include the replace case and doubling
// chains.
func FuzzExprLimits(f *testing.F) {
	f.Add([]byte(nil), `event.properties.s.replace("", event.properties.s).size() > 0`, uint8(2))
	f.Add([]byte(nil), `event.properties.s.replace("", event.properties.s).size() > 0`, uint8(3))
	f.Add([]byte(nil), `[event.properties.s].map(a, [a + a].map(b, [b + b].map(c, [c + c].map(d, [d + d].map(e, [e + e].map(f, [f + f].map(g, [g + g].map(h, h.size()))))))))`, uint8(3))
	f.Add([]byte(nil), `optional.of(event.properties.s).optMap(a, a + a).optMap(b, b + b).optMap(c, c + c).optMap(d, d + d).optMap(e, e + e).optMap(f, f + f).optMap(g, g + g).orValue('').size()`, uint8(3))
	f.Add([]byte(nil), `event.properties.l.map(x, event.properties.s + x)`, uint8(3))
	f.Add([]byte(nil), `[event.properties.nums].map(a, [a + a].map(b, [b + b].map(c, (c + c).join(','))))`, uint8(1))
	f.Add([]byte(nil), `event.properties.s.split('').map(x, event.properties.s).join('')`, uint8(2))
	f.Add([]byte(nil), `'%s'.format([[event.properties.m, event.properties.m, event.properties.deep]]).size()`, uint8(1))
	f.Add([]byte{200, 0, 230, 46, 10, 22, 0, 0}, "", uint8(2))
	f.Add([]byte{202, 41, 0, 77, 58, 240, 3, 0, 0, 0}, "", uint8(3))
	f.Add([]byte{211, 70, 100, 244, 10, 0, 0, 170, 1, 0, 0}, "", uint8(1))
	f.Fuzz(func(t *testing.T, gen []byte, src string, input uint8) {
		e, err := CompileExpr(src)
		if err != nil {
			// Most mutations of a source do not compile: let them steer
			// the grammar instead.
			src = (&exprGen{b: append(gen, src...)}).expr(0)
			if e, err = CompileExpr(src); err != nil {
				return // rejected before any input: nothing to evaluate
			}
		}
		_, err, alloc, took := measure(e, bigInputs()[int(input)%4])
		checkBounded(t, src, err, alloc, took)
		if err != nil && !errors.Is(err, ErrExprLimit) && !strings.HasPrefix(err.Error(), "evaluate ") {
			t.Errorf("%.200s: %v", src, err)
		}
	})
}
