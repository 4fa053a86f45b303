package journey

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// MaxDefinitionSize is the largest definition Parse accepts, in bytes: a
// default Kafka message.
const MaxDefinitionSize = 1 << 20

// maxNodes bounds the YAML nodes one definition may decode, aliases
// expanded, so that a few nested anchors cannot make Parse decode
// billions.
const maxNodes = 100_000

// Parse reads a definition in YAML or JSON (JSON is YAML). It reports every
// problem it finds as a *ValidationError, each with the field's path and
// line and column; unknown fields are errors. It does not check what the
// fields mean: that is Validate.
func Parse(data []byte) (*Definition, error) {
	if len(data) > MaxDefinitionSize {
		return nil, &ValidationError{Errors: []FieldError{{Reason: fmt.Sprintf("definition is %d bytes, more than the %d allowed", len(data), MaxDefinitionSize)}}}
	}
	root, ferr := parseYAML(data)
	if ferr != nil {
		return nil, &ValidationError{Errors: []FieldError{*ferr}}
	}
	d := &decoder{pos: positions{}}
	def := &Definition{}
	d.decode(root, reflect.ValueOf(def).Elem(), "")
	if len(d.errs) > 0 {
		return nil, newValidationError(d.errs)
	}
	def.pos = d.pos
	return def, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML returns the root node of the one document in data.
func parseYAML(data []byte) (*yaml.Node, *FieldError) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{Reason: "empty document"}
		}
		return nil, syntaxError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &FieldError{Line: extra.Line, Column: extra.Column, Reason: "more than one YAML document; want one journey per file"}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &FieldError{Reason: "empty document"}
	}
	return doc.Content[0], nil
}

func syntaxError(err error) *FieldError {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{Line: line, Reason: "syntax error: " + m[2]}
	}
	return &FieldError{Reason: "syntax error: " + strings.TrimPrefix(err.Error(), "yaml: ")}
}

// position is where a value starts in the source, from 1.
type position struct{ line, col int }

// positions maps a field's path (steps[2].send.channel) to where its
// value is.
type positions map[string]position

// at returns the position of path or, when the field is absent, of its
// nearest ancestor that is present.
func (p positions) at(path string) position {
	for {
		if pos, ok := p[path]; ok || path == "" {
			return pos
		}
		path = parentPath(path)
	}
}

// parentPath drops the last segment of a path: steps[2].send -> steps[2]
// -> steps -> "".
func parentPath(path string) string {
	last := 0
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '.':
			last = i
		case '[':
			last = i
			if i+1 < len(path) && path[i+1] == '"' {
				if q, err := strconv.QuotedPrefix(path[i+1:]); err == nil {
					i += len(q)
				}
			}
		}
	}
	return path[:last]
}

// fieldPath is path's child name.
func fieldPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// keyPath is path's child under a map key, quoted unless it is a plain
// word.
func keyPath(path, key string) string {
	if plainKey.MatchString(key) {
		return fieldPath(path, key)
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// decoder decodes a node tree into Go values by their json tags,
// collecting every error with its path and position.
type decoder struct {
	pos   positions
	errs  []FieldError
	nodes int
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, FieldError{Path: path, Line: n.Line, Column: n.Column, Reason: fmt.Sprintf(format, args...)})
}

// budget counts a node against maxNodes and says whether it may be
// decoded.
func (d *decoder) budget(n *yaml.Node) bool {
	d.nodes++
	if d.nodes == maxNodes+1 {
		d.fail(n, "", "more than %d values (aliases expanded); the definition is too large", maxNodes)
	}
	return d.nodes <= maxNodes
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if !d.budget(n) {
		return
	}
	d.pos[path] = position{n.Line, n.Column}
	n = resolve(n)
	if n.Kind == yaml.AliasNode {
		d.fail(n, path, "alias %q names nothing", n.Value)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		// "exit:" with nothing after it is an exit step.
		if v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "want a mapping, got %s", shown(n))
			return
		}
		fields := fieldsOf(v.Type())
		for _, p := range d.pairs(n, path, 0) {
			name := p.key.Value
			i, ok := fields.index[name]
			if !ok {
				d.fail(p.key, keyPath(path, name), "unknown field; %s", fields.suggest(name))
				continue
			}
			d.decode(p.val, v.Field(i), fieldPath(path, name))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "want a mapping, got %s", shown(n))
			return
		}
		m := reflect.MakeMap(v.Type())
		for _, p := range d.pairs(n, path, 0) {
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(p.val, e, keyPath(path, p.key.Value))
			m.SetMapIndex(reflect.ValueOf(p.key.Value), e)
		}
		v.Set(m)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "want a list, got %s", shown(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "want a string, got %s", shown(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		var i int64
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil || int64(int(i)) != i {
			d.fail(n, path, "want an integer, got %s", shown(n))
			return
		}
		v.SetInt(i)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, path, "want true or false, got %s", shown(n))
			return
		}
		v.SetBool(b)
	default:
		panic(fmt.Sprintf("journey: no decoding for %s at %s", v.Type(), path))
	}
}

type pair struct{ key, val *yaml.Node }

// pairs returns a mapping's keys and values with YAML merge keys (<<: *x)
// expanded first, so that the mapping's own keys override merged ones. A
// key given twice is an error.
func (d *decoder) pairs(n *yaml.Node, path string, depth int) []pair {
	var merged, own []pair
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, d.merge(v, path, depth)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "want a string key, got %s", shown(k))
			continue
		}
		if line, dup := first[k.Value]; dup {
			d.fail(k, keyPath(path, k.Value), "duplicate key (first on line %d)", line)
			continue
		}
		first[k.Value] = k.Line
		own = append(own, pair{k, v})
	}
	return append(merged, own...)
}

// merge returns the pairs a merge key's value brings: a mapping, or a list
// of mappings of which earlier ones win.
func (d *decoder) merge(v *yaml.Node, path string, depth int) []pair {
	if !d.budget(v) {
		return nil
	}
	if depth > 10 {
		d.fail(v, path, "merge keys nested too deep")
		return nil
	}
	r := resolve(v)
	switch r.Kind {
	case yaml.MappingNode:
		return d.pairs(r, path, depth+1)
	case yaml.SequenceNode:
		var out []pair
		for i := len(r.Content) - 1; i >= 0; i-- {
			if m := resolve(r.Content[i]); m.Kind == yaml.MappingNode {
				out = append(out, d.merge(m, path, depth+1)...)
				continue
			}
			d.fail(r.Content[i], path, "<< wants a mapping or a list of mappings, got %s", shown(r.Content[i]))
		}
		return out
	}
	d.fail(v, path, "<< wants a mapping or a list of mappings, got %s", shown(r))
	return nil
}

// shown describes a node for an error message: a scalar's text, quoted,
// or its kind.
func shown(n *yaml.Node) string {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		s := n.Value
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		if n.Tag == "!!str" {
			return strconv.Quote(s)
		}
		return s
	}
	return "nothing"
}

// fields is a struct type's json field names.
type fields struct {
	index map[string]int
	names []string
}

var fieldCache sync.Map // reflect.Type -> *fields

func fieldsOf(t reflect.Type) *fields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*fields)
	}
	f := &fields{index: map[string]int{}}
	for i := range t.NumField() {
		name := jsonName(t.Field(i))
		if name == "" {
			continue
		}
		f.index[name] = i
		f.names = append(f.names, name)
	}
	fieldCache.Store(t, f)
	return f
}

// jsonName is a struct field's key in documents; "" for fields that are
// not part of the format.
func jsonName(f reflect.StructField) string {
	tag, ok := f.Tag.Lookup("json")
	if !ok || !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	return name
}

// suggest says which field an unknown name probably meant, or lists them.
func (f *fields) suggest(name string) string {
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s)) }
	best, bestDist := "", 3
	for _, c := range f.names {
		if norm(c) == norm(name) {
			return fmt.Sprintf("did you mean %q?", c)
		}
		if dist := levenshtein(name, c); dist < bestDist && dist < max(len(c), len(name))/2+1 {
			best, bestDist = c, dist
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "want one of " + strings.Join(f.names, ", ")
}

// levenshtein is the edit distance between a and b, in bytes.
func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
