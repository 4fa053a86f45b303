package schemas

import (
	"encoding/json"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"
)

// Every embedded file is a listed record and every listed record has a file.
func TestNamesMatchFiles(t *testing.T) {
	entries, err := fs.ReadDir(FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	var want []string
	for _, name := range Names() {
		want = append(want, files[name])
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("embedded files %v, listed %v", got, want)
	}
	if _, err := Schema("dev.beckon.Nope"); err == nil {
		t.Fatal("Schema of an unknown record succeeded")
	}
}

// Each schema compiles, defines the record it is listed as, and documents
// every named type and every field, recursively.
func TestSchemas(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			text, err := Schema(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := goavro.NewCodec(text); err != nil {
				t.Fatalf("goavro rejects it: %v", err)
			}
			var s map[string]any
			if err := json.Unmarshal([]byte(text), &s); err != nil {
				t.Fatal(err)
			}
			if got := s["namespace"].(string) + "." + s["name"].(string); got != name {
				t.Fatalf("defines %s", got)
			}
			for _, problem := range undocumented(s, "") {
				t.Error(problem)
			}
		})
	}
}

// undocumented lists the named types and fields under v that lack a doc, and
// free-form JSON fields whose doc does not say so.
func undocumented(v any, path string) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, it := range x {
			out = append(out, undocumented(it, path)...)
		}
	case map[string]any:
		typ, _ := x["type"].(string)
		if typ == "record" || typ == "enum" || typ == "fixed" {
			path += "/" + x["name"].(string)
			if doc, _ := x["doc"].(string); strings.TrimSpace(doc) == "" {
				out = append(out, path+": no doc")
			}
		}
		if fields, ok := x["fields"].([]any); ok {
			for _, f := range fields {
				fm := f.(map[string]any)
				fpath := path + "." + fm["name"].(string)
				doc, _ := fm["doc"].(string)
				if strings.TrimSpace(doc) == "" {
					out = append(out, fpath+": no doc")
				}
				if fm["type"] == "string" && fm["default"] == "{}" && !strings.Contains(doc, "JSON") {
					out = append(out, fpath+": free-form field whose doc does not say it is JSON")
				}
				out = append(out, undocumented(fm["type"], fpath)...)
			}
		}
		for _, k := range []string{"items", "values"} {
			if sub, ok := x[k]; ok {
				out = append(out, undocumented(sub, path)...)
			}
		}
	}
	return out
}
