package journey

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// schemaFile is the JSON Schema editors validate and complete definitions
// with; these tests keep it in step with Definition.
const schemaFile = "../../schemas/journey.schema.json"

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s is not JSON: %v", schemaFile, err)
	}
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Fatalf("$schema is %v, want draft 2020-12", s["$schema"])
	}
	return s
}

// schemaRef follows a local $ref ("#/$defs/Name").
func schemaRef(t *testing.T, root, s map[string]any) map[string]any {
	t.Helper()
	r, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	name, ok := strings.CutPrefix(r, "#/$defs/")
	def, found := root["$defs"].(map[string]any)[name].(map[string]any)
	if !ok || !found {
		t.Fatalf("$ref %q resolves to nothing", r)
	}
	return def
}

// Every field of Definition, recursively, is a property of the schema with
// a description, required exactly when its json tag has no omitempty;
// every schema property is a field; every object is closed.
func TestSchemaMatchesDefinition(t *testing.T) {
	root := loadSchema(t)
	seen := map[reflect.Type]bool{}
	var walk func(typ reflect.Type, s map[string]any, path string)
	walk = func(typ reflect.Type, s map[string]any, path string) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		switch ty := s["type"].(type) {
		case string:
			if ty != "object" {
				t.Errorf("%s: type %q, want object", path, ty)
			}
		case []any:
			if !slices.Contains(ty, any("object")) {
				t.Errorf("%s: type %v, want object", path, ty)
			}
		}
		if s["additionalProperties"] != false {
			t.Errorf("%s: additionalProperties is not false: unknown fields would pass", path)
		}
		if d, _ := s["description"].(string); d == "" {
			t.Errorf("%s: no description", path)
		}
		props, _ := s["properties"].(map[string]any)
		var required []string
		reqs, _ := s["required"].([]any)
		for _, r := range reqs {
			required = append(required, r.(string))
		}
		fields := map[string]bool{}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := jsonName(f)
			if name == "" {
				continue
			}
			fields[name] = true
			fp := path + "." + name
			p, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("%s: not in the schema", fp)
				continue
			}
			if d, _ := p["description"].(string); strings.TrimSpace(d) == "" {
				t.Errorf("%s: no description", fp)
			}
			if omit, req := strings.Contains(f.Tag.Get("json"), ",omitempty"), slices.Contains(required, name); omit == req {
				t.Errorf("%s: the schema requires it: %v; its json tag has omitempty: %v", fp, req, omit)
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch ft.Kind() {
			case reflect.Struct:
				walk(ft, schemaRef(t, root, p), fp)
			case reflect.Slice:
				if p["type"] != "array" {
					t.Errorf("%s: type %v, want array", fp, p["type"])
					continue
				}
				items := schemaRef(t, root, p["items"].(map[string]any))
				if ft.Elem().Kind() == reflect.Struct {
					walk(ft.Elem(), items, fp+"[]")
				} else if items["type"] != "string" {
					t.Errorf("%s[]: type %v, want string", fp, items["type"])
				}
			case reflect.Map:
				ap, _ := p["additionalProperties"].(map[string]any)
				if p["type"] != "object" || ap["type"] != "string" {
					t.Errorf("%s: want an object of strings", fp)
				}
			case reflect.String:
				if p["type"] != "string" {
					t.Errorf("%s: type %v, want string", fp, p["type"])
				}
			case reflect.Int:
				if p["type"] != "integer" {
					t.Errorf("%s: type %v, want integer", fp, p["type"])
				}
			case reflect.Bool:
				if p["type"] != "boolean" {
					t.Errorf("%s: type %v, want boolean", fp, p["type"])
				}
			}
		}
		for name := range props {
			if !fields[name] {
				t.Errorf("%s.%s: in the schema but not in %s", path, name, typ.Name())
			}
		}
		for _, r := range required {
			if !fields[r] {
				t.Errorf("%s: requires %q, which %s lacks", path, r, typ.Name())
			}
		}
	}
	walk(reflect.TypeFor[Definition](), root, "$")

	// Exactly one step kind: a oneOf of one required kind each.
	step := root["$defs"].(map[string]any)["Step"].(map[string]any)
	var kindsInSchema []string
	for _, alt := range step["oneOf"].([]any) {
		req := alt.(map[string]any)["required"].([]any)
		if len(req) != 1 {
			t.Fatalf("Step oneOf alternative %v", alt)
		}
		kindsInSchema = append(kindsInSchema, req[0].(string))
	}
	all := Step{Delay: &Delay{}, Hold: &Hold{}, Branch: &Branch{}, Split: &Split{}, Send: &Send{}, WaitReceipt: &WaitReceipt{}, Handoff: &Handoff{}, Exit: &ExitStep{}}
	if got := kinds(&all); !slices.Equal(kindsInSchema, got) {
		t.Errorf("Step oneOf kinds %v, want %v", kindsInSchema, got)
	}
}

// schemaAt returns the schema object at a slash-separated path of keys.
func schemaAt(t *testing.T, root map[string]any, path string) map[string]any {
	t.Helper()
	s := root
	for _, k := range strings.Split(path, "/") {
		next, ok := s[k].(map[string]any)
		if !ok {
			t.Fatalf("schema has nothing at %s", path)
		}
		s = next
	}
	return s
}

func enumOf(t *testing.T, s map[string]any) []string {
	t.Helper()
	var out []string
	for _, v := range s["enum"].([]any) {
		out = append(out, v.(string))
	}
	return out
}

// The schema's enums are the constants Validate accepts, and its patterns
// accept what the parsers accept (on samples: Go's regexp is close to the
// ECMA-262 dialect editors use for these simple patterns).
func TestSchemaAgreesWithValidate(t *testing.T) {
	root := loadSchema(t)
	d := "$defs/"
	for path, want := range map[string][]string{
		d + "Trigger/properties/reentry":              {ReentryAlways, ReentryOnce, ReentryOncePerSession, ReentryCooldown},
		d + "Window/properties/action":                {ActionDelay, ActionSkip},
		d + "FrequencyCap/properties/action":          {ActionSkip, ActionDelay},
		d + "PausedPolicy/properties/action":          {PausedSendLate, PausedSkip},
		d + "WaitReceipt/properties/on/propertyNames": ReceiptStatuses,
	} {
		if got := enumOf(t, schemaAt(t, root, path)); !slices.Equal(got, want) {
			t.Errorf("%s: enum %v, want %v", path, got, want)
		}
	}
	if got := schemaAt(t, root, d+"Step/properties/id/not")["const"]; got != ExitTarget {
		t.Errorf("reserved step id %v, want %q", got, ExitTarget)
	}

	pattern := func(path string) *regexp.Regexp {
		p, _ := schemaAt(t, root, path)["pattern"].(string)
		re, err := regexp.Compile(p)
		if err != nil {
			t.Fatalf("%s: pattern %q: %v", path, p, err)
		}
		return re
	}
	check := func(path string, parse func(string) error, samples ...string) {
		re := pattern(path)
		for _, s := range samples {
			if re.MatchString(s) != (parse(s) == nil) {
				t.Errorf("%s: pattern matches %q: %v, but the parser says %v", path, s, re.MatchString(s), parse(s))
			}
		}
	}
	duration := func(s string) error { _, err := ParseDuration(s); return err }
	clock := func(s string) error { _, err := ParseClock(s); return err }
	weekday := func(s string) error { _, err := ParseWeekday(s); return err }
	check(d+"Delay/properties/for", duration, "90s", "30m", "1h30m", "1d", "2w", "1d12h", "1.5h", ".5h", "250ms", "1µs", "1us",
		"", "1", "d", "-1h", "+1h", "1 d", "1D", "1y", "h1", "1d ")
	check(d+"Window/properties/from", clock, "00:00", "09:30", "23:59", "24:00", "9:30", "12:60", "1230", "12:3", " 12:30", "ab:cd")
	check(d+"Window/properties/days/items", weekday, "mon", "Mon", "MON", "monday", "Monday", "wednesday", "thu", "Thursday", "sun",
		"mo", "mond", "funday", "", "tues")
	journeyIDs := func(s string) error {
		if journeyID.MatchString(s) {
			return nil
		}
		return os.ErrInvalid
	}
	check("properties/id", journeyIDs, "a", "abandoned-cart", "x1", "Cart", "-a", "a-", "a_b", strings.Repeat("a", 64), strings.Repeat("a", 65))
	stepIDs := func(s string) error {
		if stepID.MatchString(s) {
			return nil
		}
		return os.ErrInvalid
	}
	check(d+"Step/properties/id", stepIDs, "a", "wait_1", "Send-Email", "", "a.b", "a b", strings.Repeat("s", 65))

	// Every $ref points at a definition.
	var refs func(v any)
	refs = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x["$ref"]; ok {
				schemaRef(t, root, x)
			}
			for _, e := range x {
				refs(e)
			}
		case []any:
			for _, e := range x {
				refs(e)
			}
		}
	}
	refs(root)
}
