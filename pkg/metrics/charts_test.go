package metrics

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/beckon-dev/beckon/pkg/metrics/promtest"
)

const (
	rulesFile     = "../../charts/beckon/alerts/beckon.rules.yaml"
	rulesTestFile = "../../charts/beckon/alerts/beckon.rules.test.yaml"
	dashboardFile = "../../charts/beckon/dashboards/beckon.json"
)

// exported returns the Beckon metric families of an exposition, with
// their Prometheus types.
func exported(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" && strings.HasPrefix(f[2], "beckon_") {
			m[f[2]] = f[3]
		}
	}
	return m
}

var metricName = regexp.MustCompile(`\bbeckon_[a-z_]+`)

// unknownMetrics returns the beckon_ names expr uses that the engine does
// not export (a histogram's _bucket, _count and _sum series included).
func unknownMetrics(expr string, families map[string]string) []string {
	var unknown []string
	for _, name := range metricName.FindAllString(expr, -1) {
		if _, ok := families[name]; ok {
			continue
		}
		base := name
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if families[base] != "histogram" {
			unknown = append(unknown, name)
		}
	}
	return unknown
}

// TestAlertRules: promtool accepts the rules and their unit tests pass
// (each alert fires on the series it is for, and not before its "for"),
// and the rules use only metrics the engine exports.
func TestAlertRules(t *testing.T) {
	in, err := promtest.Install(context.Background())
	if err != nil {
		t.Fatalf("install promtool: %v", err)
	}
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTestFile}} {
		out, err := exec.Command(in.Promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	_, out := exercised(t)
	if unknown := unknownMetrics(string(rules), exported(out)); len(unknown) > 0 {
		t.Errorf("the alert rules use metrics the engine does not export: %v", unknown)
	}
}

// TestDashboard: the Grafana dashboard is JSON, each panel's queries use
// only metrics the engine exports, and a real Prometheus accepts every
// query (with Grafana's variables given values).
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	_, out := exercised(t)
	families := exported(out)
	prom := promtest.Start(t)
	vars := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*")
	queries := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			queries++
			if unknown := unknownMetrics(tg.Expr, families); len(unknown) > 0 {
				t.Errorf("panel %q uses metrics the engine does not export: %v", p.Title, unknown)
			}
			if _, err := prom.Query(context.Background(), vars.Replace(tg.Expr)); err != nil {
				t.Errorf("panel %q: Prometheus refuses the query: %v", p.Title, err)
			}
		}
	}
	if queries < 10 {
		t.Errorf("the dashboard has %d queries; want its panels", queries)
	}
}
