package api_test

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/beckon-dev/beckon/pkg/journeymetrics"
	"github.com/beckon-dev/beckon/pkg/kafkatest"
)

// openAPI is docs/openapi.yaml, read as plain data: the test checks the
// implementation against the document, not against Go types generated
// from it, so a drift on either side shows.
type openAPI struct {
	root map[string]any
	ops  []operation
}

// operation is one documented method on one path.
type operation struct {
	method  string
	path    string // /v1/journeys/{id}
	re      *regexp.Regexp
	role    string
	op      map[string]any
	statusS []string
}

func loadOpenAPI(t testing.TB) *openAPI {
	t.Helper()
	b, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if v, _ := root["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("docs/openapi.yaml: openapi %q, want 3.1.x", v)
	}
	doc := &openAPI{root: root}
	paths, _ := root["paths"].(map[string]any)
	for p, item := range paths {
		for m, op := range item.(map[string]any) {
			if !slices.Contains([]string{"get", "put", "post", "delete", "patch"}, m) {
				continue
			}
			o := op.(map[string]any)
			role, _ := o["x-beckon-role"].(string)
			re := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(p), `[^/]+`) + "$")
			var statuses []string
			for s := range o["responses"].(map[string]any) {
				statuses = append(statuses, s)
			}
			slices.Sort(statuses)
			doc.ops = append(doc.ops, operation{method: strings.ToUpper(m), path: p, re: re, role: role, op: o, statusS: statuses})
		}
	}
	slices.SortFunc(doc.ops, func(a, b operation) int { return strings.Compare(a.method+" "+a.path, b.method+" "+b.path) })
	return doc
}

// find returns the operation that serves a request.
func (d *openAPI) find(method, path string) (operation, bool) {
	path, _, _ = strings.Cut(path, "?")
	for _, o := range d.ops {
		if o.method == method && o.re.MatchString(path) {
			return o, true
		}
	}
	return operation{}, false
}

// deref follows a local $ref.
func (d *openAPI) deref(v map[string]any) map[string]any {
	for {
		ref, ok := v["$ref"].(string)
		if !ok {
			return v
		}
		var cur any = d.root
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		v = cur.(map[string]any)
	}
}

// response returns the documented JSON schema of a status, nil when the
// response has no body; ok is false when the status is not documented.
func (d *openAPI) response(o operation, status int) (schema map[string]any, headers map[string]any, ok bool) {
	r, found := o.op["responses"].(map[string]any)[fmt.Sprint(status)]
	if !found {
		return nil, nil, false
	}
	resp := d.deref(r.(map[string]any))
	headers, _ = resp["headers"].(map[string]any)
	content, _ := resp["content"].(map[string]any)
	if content == nil {
		return nil, headers, true
	}
	js := content["application/json"].(map[string]any)
	return d.deref(js["schema"].(map[string]any)), headers, true
}

// check validates a decoded JSON value against a schema and returns every
// mismatch: types, required properties, enums, date-times, and
// properties the document does not declare (so the document stays
// complete).
func (d *openAPI) check(schema map[string]any, v any, at string) []string {
	schema = d.deref(schema)
	if all, ok := schema["allOf"].([]any); ok {
		merged := map[string]any{"type": "object", "properties": map[string]any{}, "required": []any{}, "additionalProperties": false}
		for _, s := range all {
			s := d.deref(s.(map[string]any))
			for k, p := range s["properties"].(map[string]any) {
				merged["properties"].(map[string]any)[k] = p
			}
			if r, ok := s["required"].([]any); ok {
				merged["required"] = append(merged["required"].([]any), r...)
			}
		}
		schema = merged
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	typ, _ := schema["type"].(string)
	switch typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			bad("want an object, got %T", v)
			return errs
		}
		props, _ := schema["properties"].(map[string]any)
		required, _ := schema["required"].([]any)
		for _, r := range required {
			if _, ok := m[r.(string)]; !ok {
				bad("required property %q missing", r)
			}
		}
		for k, pv := range m {
			ps, ok := props[k]
			if !ok {
				switch extra := schema["additionalProperties"].(type) {
				case bool:
					if !extra {
						bad("property %q is not documented", k)
					}
				case map[string]any: // a map by key, such as counts by reason
					errs = append(errs, d.check(extra, pv, at+"["+k+"]")...)
				}
				continue
			}
			errs = append(errs, d.check(ps.(map[string]any), pv, at+"."+k)...)
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			bad("want an array, got %T", v)
			return errs
		}
		for i, e := range a {
			errs = append(errs, d.check(schema["items"].(map[string]any), e, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			bad("want a string, got %T", v)
			return errs
		}
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				bad("%q is not a date-time", s)
			}
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			bad("want an integer, got %v", v)
		} else if min, ok := schema["minimum"].(int); ok && f < float64(min) {
			bad("%v is below the minimum %d", f, min)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("want a boolean, got %T", v)
		}
	case "":
	default:
		bad("the checker does not know type %q", typ)
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		bad("%v is not one of %v", v, enum)
	}
	return errs
}

// TestOpenAPIDocumentsEveryRoute checks that the document and the service
// as api.Start builds it have the same routes with the same roles.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	h := startAPI(t, nil, journeymetrics.NewReader(nil), timelinesOf(t, kafkatest.Prefix(t)+"engine", kafkatest.Prefix(t)+"activity"))
	doc := h.doc
	var implemented, documented []string
	for _, r := range h.svc.Routes() {
		implemented = append(implemented, r.Method+" "+r.Pattern+" "+r.Role.String())
	}
	for _, o := range doc.ops {
		documented = append(documented, o.method+" "+o.path+" "+o.role)
		for _, want := range []string{"401", "503"} {
			if !slices.Contains(o.statusS, want) {
				t.Errorf("%s %s: no %s response documented", o.method, o.path, want)
			}
		}
		if o.role == "write" && !slices.Contains(o.statusS, "403") {
			t.Errorf("%s %s: a write route without a 403 response documented", o.method, o.path)
		}
	}
	slices.Sort(implemented)
	slices.Sort(documented)
	for _, r := range implemented {
		if !slices.Contains(documented, r) {
			t.Errorf("implemented but not documented (method, path, role): %s", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(implemented, r) {
			t.Errorf("documented but not implemented (method, path, role): %s", r)
		}
	}
	if len(documented) == 0 {
		t.Fatal("the document has no operations")
	}
}

// statusText is for failure messages.
func statusText(code int) string { return fmt.Sprintf("%d %s", code, http.StatusText(code)) }
