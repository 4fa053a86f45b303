package metrics

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestObservabilityDocListsEveryMetric: docs/observability.md's table
// lists exactly the metrics the engine exports, each with its type and
// its labels.
func TestObservabilityDocListsEveryMetric(t *testing.T) {
	b, err := os.ReadFile("../../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(beckon_[a-z_]+)` \\| ([a-z]+) \\|([^|]*)\\|")
	documented := map[string]string{}
	documentedLabels := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = m[2]
		var labels []string
		for _, l := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(m[3], -1) {
			labels = append(labels, l[1])
		}
		slices.Sort(labels)
		documentedLabels[m[1]] = strings.Join(labels, ",")
	}
	_, out := exercised(t)
	families := exported(out)
	for name, labels := range labelsOf(out) {
		if d, ok := documentedLabels[name]; ok && d != labels {
			t.Errorf("%s is documented with labels [%s]; it has [%s]", name, d, labels)
		}
	}
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

// labelsOf returns the label names of each beckon_ family in an
// exposition, sorted and joined by commas (a histogram's le left out).
func labelsOf(out string) map[string]string {
	seen := map[string]map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "beckon_") {
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		name = strings.Fields(name)[0]
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && strings.Contains(out, "# TYPE "+base+" histogram") {
				name = base
			}
		}
		if seen[name] == nil {
			seen[name] = map[string]bool{}
		}
		if rest == "" {
			continue
		}
		for _, m := range regexp.MustCompile(`([a-z_]+)="`).FindAllStringSubmatch(rest, -1) {
			if m[1] != "le" {
				seen[name][m[1]] = true
			}
		}
	}
	out2 := map[string]string{}
	for name, ls := range seen {
		labels := make([]string, 0, len(ls))
		for l := range ls {
			labels = append(labels, l)
		}
		slices.Sort(labels)
		out2[name] = strings.Join(labels, ",")
	}
	return out2
}
