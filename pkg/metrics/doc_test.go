package metrics

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestObservabilityDocListsEveryMetric: docs/observability.md's table
// lists exactly the metrics the engine exports, each with its type.
func TestObservabilityDocListsEveryMetric(t *testing.T) {
	b, err := os.ReadFile("../../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(beckon_[a-z_]+)` \\| ([a-z]+) \\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = m[2]
	}
	_, out := exercised(t)
	families := exported(out)
	var missing, extra []string
	for name, typ := range families {
		switch d, ok := documented[name]; {
		case !ok:
			missing = append(missing, name)
		case d != typ:
			t.Errorf("%s is documented as a %s; it is a %s", name, d, typ)
		}
	}
	for name := range documented {
		if _, ok := families[name]; !ok {
			extra = append(extra, name)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing) > 0 {
		t.Errorf("docs/observability.md does not list %s", strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		t.Errorf("docs/observability.md lists %s, which the engine does not export", strings.Join(extra, ", "))
	}
	if len(families) < 20 {
		t.Errorf("only %d beckon_ families exported", len(families))
	}
}
