package records

import (
	"bytes"
	"math"
	"unicode/utf8"
)

// Field returns the value of the top-level key name of j, a JSON object,
// as Map would have it (Map()[name]): the value parsed, found false when
// the object has no such key (or j is absent or null). It parses only
// that value and checks the rest of the text without building it, so an
// expression that reads one property (event.properties.cart_id) does not
// pay for all of them. ok false says Field cannot answer exactly as Map
// would (text that is not an object or not valid, a key or string with
// escapes Map's own parser leaves to encoding/json, ...): the caller then
// uses Map.
func (j JSON) Field(name string) (v any, found, ok bool) {
	f := j.Fields()
	return f.Field(name)
}

// JSONFields is a JSON object's text checked once, with where each of its
// top-level values starts: reading several properties of one event costs
// one check of the text, not one per property.
type JSONFields struct {
	b  JSON
	ok bool
	// at holds each key (without escapes) and the offset of its value, in
	// the text's order.
	at []jsonAt
}

// jsonAt is a key's bytes b[start:end] and its value's offset.
type jsonAt struct{ start, end, at int32 }

// Fields checks j as Field does and indexes its top-level keys.
func (j JSON) Fields() JSONFields {
	if j.IsZero() {
		return JSONFields{ok: true}
	}
	p := jsonParser{b: j}
	p.space()
	if p.lit("null") {
		p.space()
		return JSONFields{ok: p.i == len(p.b)}
	}
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return JSONFields{}
	}
	p.i++
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		p.space()
		return JSONFields{ok: p.i == len(p.b)}
	}
	if len(j) > math.MaxInt32 {
		return JSONFields{}
	}
	// An event's properties are a handful of keys: one allocation.
	f := JSONFields{b: j, at: make([]jsonAt, 0, 12)}
	for {
		p.space()
		start := p.i + 1
		k, ok := p.rawKey()
		if !ok {
			return JSONFields{}
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return JSONFields{}
		}
		p.i++
		p.space()
		f.at = append(f.at, jsonAt{int32(start), int32(start + len(k)), int32(p.i)})
		if !p.skip(1) {
			return JSONFields{}
		}
		p.space()
		if p.i >= len(p.b) {
			return JSONFields{}
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			p.space()
			if p.i != len(p.b) {
				return JSONFields{}
			}
			f.ok = true
			return f
		default:
			return JSONFields{}
		}
	}
}

// Field is JSON.Field on the checked text: it parses only name's value.
func (f *JSONFields) Field(name string) (v any, found, ok bool) {
	if !f.ok {
		return nil, false, false
	}
	// A later duplicate wins, as in Map.
	for i := len(f.at) - 1; i >= 0; i-- {
		if k := f.at[i]; string(f.b[k.start:k.end]) == name {
			p := jsonParser{b: f.b, i: int(k.at)}
			if v, ok = p.value(1); !ok {
				return nil, false, false
			}
			return v, true, true
		}
	}
	return nil, false, true
}

// rawKey reads an object key without escapes, as the bytes between its
// quotes; false for one with escapes (which Field leaves to Map).
func (p *jsonParser) rawKey() ([]byte, bool) {
	start := p.i + 1
	if !p.skipStr() {
		return nil, false
	}
	k := p.b[start : p.i-1]
	return k, bytes.IndexByte(k, '\\') < 0
}

// skip checks a value as value would parse it, without building it.
func (p *jsonParser) skip(depth int) bool {
	if p.i >= len(p.b) || depth > maxDepth {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '{' || c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		p.i++
		p.space()
		if p.i < len(p.b) && p.b[p.i] == end {
			p.i++
			return true
		}
		for {
			p.space()
			if c == '{' {
				if !p.skipStr() {
					return false
				}
				p.space()
				if p.i >= len(p.b) || p.b[p.i] != ':' {
					return false
				}
				p.i++
				p.space()
			}
			if !p.skip(depth + 1) {
				return false
			}
			p.space()
			if p.i >= len(p.b) {
				return false
			}
			switch p.b[p.i] {
			case ',':
				p.i++
			case end:
				p.i++
				return true
			default:
				return false
			}
		}
	case c == '"':
		return p.skipStr()
	case c == 't':
		return p.lit("true")
	case c == 'f':
		return p.lit("false")
	case c == 'n':
		return p.lit("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return p.skipNum()
	}
	return false
}

// skipNum checks a number as num would read it. Only an exponent or a
// mantissa long enough to overflow can fail num's conversion; a plain
// short number needs none.
func (p *jsonParser) skipNum() bool {
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case '0' <= c && c <= '9' || c == '-' || c == '.':
			p.i++
			continue
		case c == 'e' || c == 'E' || c == '+':
		default:
			if p.i-start < 300 && validNum(p.b[start:p.i]) {
				return true
			}
		}
		break
	}
	p.i = start
	_, ok := p.num()
	return ok
}

// validNum says whether b is a number of JSON's grammar (without an
// exponent).
func validNum(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			n++
		}
		if n == 0 {
			return false
		}
	}
	return i == len(b)
}

// skipStr checks a string as str would read it, without building it: the
// escapes str handles are ASCII, so the text is valid UTF-8 exactly when
// the string str builds is.
func (p *jsonParser) skipStr() bool {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return false
	}
	p.i++
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return utf8.Valid(s)
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return false
			}
			switch p.b[p.i+1] {
			case '"', '\\', '/', 'n', 't', 'r', 'b', 'f':
				p.i += 2
				continue
			}
			return false // \u escapes: left to encoding/json
		case c < 0x20:
			return false
		}
		p.i++
	}
	return false
}
