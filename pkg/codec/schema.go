package codec

import (
	"encoding/json"
	"fmt"
	"strings"
)

// kind is an Avro type.
type kind uint8

const (
	kindNull kind = iota
	kindBoolean
	kindInt
	kindLong
	kindFloat
	kindDouble
	kindBytes
	kindString
	kindRecord
	kindEnum
	kindArray
	kindMap
	kindUnion
	kindFixed
)

var primitiveKinds = map[string]kind{
	"null": kindNull, "boolean": kindBoolean, "int": kindInt, "long": kindLong,
	"float": kindFloat, "double": kindDouble, "bytes": kindBytes, "string": kindString,
}

var kindNames = [...]string{
	kindNull: "null", kindBoolean: "boolean", kindInt: "int", kindLong: "long",
	kindFloat: "float", kindDouble: "double", kindBytes: "bytes", kindString: "string",
	kindRecord: "record", kindEnum: "enum", kindArray: "array", kindMap: "map",
	kindUnion: "union", kindFixed: "fixed",
}

func (k kind) String() string { return kindNames[k] }

// node is one type of a parsed writer schema. goavro decodes to native maps
// but keeps no schema the caller can walk, so the codec parses the Parsing
// Canonical Form itself to (a) bound-check a body before goavro allocates for
// it and (b) know which fields are unions, to unwrap goavro's {"type": value}
// union maps without guessing.
type node struct {
	kind     kind
	name     string  // full name of records, enums and fixed
	fields   []field // records, in order
	fieldIdx map[string]int
	symbols  int     // enums: number of symbols
	size     int     // fixed: size in bytes
	items    *node   // arrays: items; maps: values
	branches []*node // unions

	// minSize is a lower bound of the encoded size of a value of this type,
	// used to reject block counts that cannot fit in what is left.
	minSize  int
	sizing   bool // minSize being computed (breaks recursion)
	sizeDone bool
}

type field struct {
	name string
	typ  *node
}

// field returns the field called name, or nil.
func (n *node) field(name string) *field {
	i, ok := n.fieldIdx[name]
	if !ok {
		return nil
	}
	return &n.fields[i]
}

// branch returns the union branch goavro names key: the full name of a named
// type, the type name of others, or "<primitive>.<logicalType>" (e.g.
// "long.timestamp-millis", since the canonical form drops logical types).
func (n *node) branch(key string) *node {
	for _, b := range n.branches {
		switch b.kind {
		case kindRecord, kindEnum, kindFixed:
			if b.name == key {
				return b
			}
		default:
			if b.kind.String() == key {
				return b
			}
		}
	}
	if prim, _, ok := strings.Cut(key, "."); ok {
		if k, ok := primitiveKinds[prim]; ok {
			for _, b := range n.branches {
				if b.kind == k {
					return b
				}
			}
		}
	}
	return nil
}

// parseCanonical parses a schema in Parsing Canonical Form (as produced by
// parsingCanonicalForm: full names, no namespaces, no attributes beyond the
// ones that shape the binary encoding).
func parseCanonical(canonical string) (*node, error) {
	var v any
	if err := json.Unmarshal([]byte(canonical), &v); err != nil {
		return nil, fmt.Errorf("parse canonical schema: %w", err)
	}
	p := schemaParser{named: map[string]*node{}}
	root, err := p.parse(v)
	if err != nil {
		return nil, err
	}
	root.computeMinSize()
	return root, nil
}

type schemaParser struct {
	named map[string]*node
}

func (p *schemaParser) parse(v any) (*node, error) {
	switch s := v.(type) {
	case string:
		if k, ok := primitiveKinds[s]; ok {
			return &node{kind: k}, nil
		}
		if n, ok := p.named[s]; ok {
			return n, nil
		}
		return nil, fmt.Errorf("undefined type %q", s)
	case []any:
		n := &node{kind: kindUnion, branches: make([]*node, 0, len(s))}
		for _, b := range s {
			bn, err := p.parse(b)
			if err != nil {
				return nil, err
			}
			n.branches = append(n.branches, bn)
		}
		return n, nil
	case map[string]any:
		return p.parseComplex(s)
	default:
		return nil, fmt.Errorf("unexpected schema element %T", v)
	}
}

func (p *schemaParser) parseComplex(s map[string]any) (*node, error) {
	typ, _ := s["type"].(string)
	name, _ := s["name"].(string)
	switch typ {
	case "record", "error":
		n := &node{kind: kindRecord, name: name}
		p.named[name] = n // before the fields: records may refer to themselves
		fs, _ := s["fields"].([]any)
		n.fields = make([]field, 0, len(fs))
		n.fieldIdx = make(map[string]int, len(fs))
		for _, f := range fs {
			fm, ok := f.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("record %s: field is %T", name, f)
			}
			fname, _ := fm["name"].(string)
			ft, err := p.parse(fm["type"])
			if err != nil {
				return nil, fmt.Errorf("record %s field %s: %w", name, fname, err)
			}
			n.fieldIdx[fname] = len(n.fields)
			n.fields = append(n.fields, field{name: fname, typ: ft})
		}
		return n, nil
	case "enum":
		syms, _ := s["symbols"].([]any)
		n := &node{kind: kindEnum, name: name, symbols: len(syms)}
		p.named[name] = n
		return n, nil
	case "fixed":
		size, _ := s["size"].(float64)
		n := &node{kind: kindFixed, name: name, size: int(size)}
		p.named[name] = n
		return n, nil
	case "array":
		items, err := p.parse(s["items"])
		if err != nil {
			return nil, fmt.Errorf("array items: %w", err)
		}
		return &node{kind: kindArray, items: items}, nil
	case "map":
		values, err := p.parse(s["values"])
		if err != nil {
			return nil, fmt.Errorf("map values: %w", err)
		}
		return &node{kind: kindMap, items: values}, nil
	default:
		if k, ok := primitiveKinds[typ]; ok {
			return &node{kind: k}, nil
		}
		return nil, fmt.Errorf("unknown type %q", typ)
	}
}

// computeMinSize fills minSize for n and everything it reaches. A type that
// refers to itself counts as size 0 at the point of recursion, which keeps
// the bound a lower bound.
func (n *node) computeMinSize() int {
	if n.sizeDone || n.sizing {
		return n.minSize
	}
	n.sizing = true
	size := 0
	switch n.kind {
	case kindNull:
	case kindBoolean, kindInt, kindLong, kindBytes, kindString, kindEnum, kindArray, kindMap:
		size = 1 // one varint at least
	case kindFloat:
		size = 4
	case kindDouble:
		size = 8
	case kindFixed:
		size = n.size
	case kindRecord:
		for _, f := range n.fields {
			size += f.typ.computeMinSize()
		}
	case kindUnion:
		smallest := -1
		for _, b := range n.branches {
			if s := b.computeMinSize(); smallest < 0 || s < smallest {
				smallest = s
			}
		}
		size = 1 + max(smallest, 0)
	}
	if n.items != nil {
		n.items.computeMinSize()
	}
	n.minSize = size
	n.sizing = false
	n.sizeDone = true
	return size
}
