package codec

import (
	"errors"
	"fmt"
	"math"
)

// The guard walks an Avro body with its writer's schema before goavro decodes
// it, without allocating, and rejects what would make goavro misbehave on
// hostile input. goavro trusts block counts: an array or map whose header
// claims 2^31-1 items makes it allocate tens of GiB up front
// (make([]any, 0, count)), which the runtime cannot recover from; and a deeply
// nested value of a recursive schema can exhaust the stack, which is fatal too.
// The guard bounds both: a block may not claim more items than the bytes left
// can hold, zero-size items are capped, and nesting is capped. It also pins
// down where a body goes wrong and whether it is merely cut short, which
// goavro's error strings do not say reliably.
const (
	// maxDepth is the deepest nesting of records, arrays, maps and unions a
	// body may have. Beckon's schemas nest 4 deep.
	maxDepth = 64
	// maxZeroSizeItems caps the items of zero-size types (null, empty records)
	// per body, which take no bytes and so are not bounded by the input length.
	maxZeroSizeItems = 1 << 16
	// maxVarintLen is the longest valid zig-zag varint (a 64-bit long).
	maxVarintLen = 10
)

// errShort is returned internally when the body ends early.
var errShort = errors.New("short")

// guard is the state of one walk. off is relative to the body; base is the
// body's offset in the whole input, for error messages.
type guard struct {
	buf       []byte
	off       int
	base      int
	zeroItems int
	// need and what describe the read that ran past the end.
	need int
	what string
}

// checkBody walks body with the writer schema root and returns nil, a
// *TruncatedError or a *MalformedError. inputLen and base are the length of
// the whole input and the offset of body in it.
func checkBody(root *node, schemaName string, body []byte, inputLen, base int) error {
	g := guard{buf: body, base: base}
	err := g.value(root, 0)
	if err == nil && g.off != len(body) {
		err = fmt.Errorf("%d trailing bytes after the record", len(body)-g.off)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errShort):
		return &TruncatedError{Len: inputLen, Need: base + g.need, What: g.what}
	default:
		return &MalformedError{Schema: schemaName, Offset: base + g.off, Err: err}
	}
}

func (g *guard) short(n int, what string) error {
	g.need = g.off + n
	g.what = fmt.Sprintf("%s at offset %d", what, g.base+g.off)
	return errShort
}

// varint reads one zig-zag varint as goavro does (same bytes consumed).
func (g *guard) varint(what string) (int64, error) {
	var v uint64
	var shift uint
	for i := 0; ; i++ {
		if g.off+i >= len(g.buf) {
			return 0, g.short(i+1, what)
		}
		if i == maxVarintLen {
			return 0, fmt.Errorf("%s: varint longer than %d bytes", what, maxVarintLen)
		}
		b := g.buf[g.off+i]
		v |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			g.off += i + 1
			return int64(v>>1) ^ -int64(v&1), nil
		}
		shift += 7
	}
}

func (g *guard) skip(n int, what string) error {
	if n > len(g.buf)-g.off {
		return g.short(n, what)
	}
	g.off += n
	return nil
}

func (g *guard) value(n *node, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	switch n.kind {
	case kindNull:
		return nil
	case kindBoolean:
		return g.skip(1, "boolean")
	case kindInt, kindLong:
		_, err := g.varint(n.kind.String())
		return err
	case kindFloat:
		return g.skip(4, "float")
	case kindDouble:
		return g.skip(8, "double")
	case kindFixed:
		return g.skip(n.size, "fixed")
	case kindBytes, kindString:
		start := g.off
		l, err := g.varint(lengthLabels[n.kind])
		if err != nil {
			return err
		}
		if l < 0 {
			g.off = start
			return fmt.Errorf("%v length %d is negative", n.kind, l)
		}
		if l > int64(len(g.buf)-g.off) {
			return g.short(int(min(l, math.MaxInt32)), n.kind.String())
		}
		g.off += int(l)
		return nil
	case kindEnum:
		start := g.off
		i, err := g.varint("enum index")
		if err != nil {
			if errors.Is(err, errShort) {
				g.what = fmt.Sprintf("enum %s index at offset %d", n.name, g.base+start)
			}
			return err
		}
		if i < 0 || i >= int64(n.symbols) {
			g.off = start
			return fmt.Errorf("enum %s index %d out of range [0,%d)", n.name, i, n.symbols)
		}
		return nil
	case kindUnion:
		start := g.off
		i, err := g.varint("union index")
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(n.branches)) {
			g.off = start
			return fmt.Errorf("union index %d out of range [0,%d)", i, len(n.branches))
		}
		return g.value(n.branches[i], depth+1)
	case kindRecord:
		for i := range n.fields {
			if err := g.value(n.fields[i].typ, depth+1); err != nil {
				return err
			}
		}
		return nil
	case kindArray, kindMap:
		return g.blocks(n, depth)
	default:
		return fmt.Errorf("unsupported schema kind %v", n.kind)
	}
}

// Labels of varints, constant so the happy path builds no strings.
var (
	lengthLabels = [...]string{kindBytes: "bytes length", kindString: "string length"}
	countLabels  = [...]string{kindArray: "array block count", kindMap: "map block count"}
	sizeLabels   = [...]string{kindArray: "array block size", kindMap: "map block size"}
)

// blocks walks the blocks of an array or a map.
func (g *guard) blocks(n *node, depth int) error {
	what := n.kind.String()
	itemMin := n.items.minSize
	if n.kind == kindMap {
		itemMin++ // the key's length
	}
	for {
		start := g.off
		count, err := g.varint(countLabels[n.kind])
		if err != nil {
			return err
		}
		if count == 0 {
			return nil
		}
		if count < 0 {
			if count == math.MinInt64 {
				g.off = start
				return fmt.Errorf("%s block count %d", what, count)
			}
			count = -count
			size, err := g.varint(sizeLabels[n.kind])
			if err != nil {
				return err
			}
			if size < 0 {
				g.off = start
				return fmt.Errorf("%s block size %d is negative", what, size)
			}
		}
		left := int64(len(g.buf) - g.off)
		if itemMin > 0 {
			if count > left/int64(itemMin) {
				need := int64(math.MaxInt32)
				if count <= need/int64(itemMin) {
					need = count * int64(itemMin)
				}
				return g.short(int(need), fmt.Sprintf("%s block of %d items", what, count))
			}
		} else {
			g.zeroItems += int(min(count, maxZeroSizeItems+1))
			if g.zeroItems > maxZeroSizeItems {
				g.off = start
				return fmt.Errorf("%s holds more than %d zero-size items", what, maxZeroSizeItems)
			}
		}
		for i := int64(0); i < count; i++ {
			if n.kind == kindMap {
				if err := g.value(&stringNode, depth+1); err != nil {
					return err
				}
			}
			if err := g.value(n.items, depth+1); err != nil {
				return err
			}
		}
	}
}

var stringNode = node{kind: kindString, minSize: 1, sizeDone: true}
