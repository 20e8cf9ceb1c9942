package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
	"go.yaml.in/yaml/v3"
)

const (
	alertsFile     = "monitoring/alerts.yml"
	alertTestsFile = "monitoring/alerts_test.yml"
	dashboardFile  = "monitoring/grafana/dashboards/fechatter.json"
	runbookFile    = "RUNBOOK.md"
)

func promParser() parser.Parser { return parser.NewParser(parser.Options{}) }

// loadAlertRules parses alerts.yml with Prometheus' own rule-file parser,
// which also parses every expression and annotation template.
func loadAlertRules(t *testing.T) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.ParseFile(alertsFile, false, model.UTF8Validation, promParser(), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("%s: %v", alertsFile, errs)
	}
	return groups
}

// The alerts the issue asks for, by the condition each watches.
var wantAlerts = []string{
	"FechatterInstanceDown", "FechatterNATSDisconnected", "FechatterDatabaseUnreachable",
	"FechatterOutboxBacklogGrowing", "FechatterIndexLagHigh", "FechatterSendLatencyHigh",
	"FechatterErrorRateHigh", "FechatterDatabasePoolSaturated", "FechatterWebSocketSlowConsumers",
}

func TestAlertRulesParseAndHaveRunbooks(t *testing.T) {
	groups := loadAlertRules(t)
	runbook, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			names = append(names, r.Alert)
			if r.Labels["severity"] != "critical" && r.Labels["severity"] != "warning" {
				t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", r.Alert)
			}
			want := "RUNBOOK.md#" + strings.ToLower(r.Alert)
			if r.Annotations["runbook"] != want {
				t.Errorf("%s: runbook %q, want %q", r.Alert, r.Annotations["runbook"], want)
			}
			if !strings.Contains(string(runbook), "\n## "+r.Alert+"\n") {
				t.Errorf("%s: no section \"## %s\" in %s", r.Alert, r.Alert, runbookFile)
			}
		}
	}
	for _, w := range wantAlerts {
		if !slices.Contains(names, w) {
			t.Errorf("no alert %s", w)
		}
	}
}

// alertTests is promtool's unit-test file format (the subset used here).
type alertTests struct {
	RuleFiles          []string       `yaml:"rule_files"`
	EvaluationInterval model.Duration `yaml:"evaluation_interval"`
	Tests              []struct {
		Name        string         `yaml:"name"`
		Interval    model.Duration `yaml:"interval"`
		InputSeries []struct {
			Series string `yaml:"series"`
			Values string `yaml:"values"`
		} `yaml:"input_series"`
		AlertRuleTest []struct {
			EvalTime  model.Duration `yaml:"eval_time"`
			Alertname string         `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `yaml:"exp_labels"`
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestAlertRules runs alerts_test.yml, written in promtool's test format,
// on Prometheus' own engine and rule evaluation: the input series are
// loaded into a test storage, every alerting rule is evaluated at each
// evaluation interval as Prometheus does, and at each eval_time the firing
// alerts of alertname must be exactly exp_alerts (labels without alertname;
// annotations when given). Every alert must fire in at least one test.
func TestAlertRules(t *testing.T) {
	raw, err := os.ReadFile(alertTestsFile)
	if err != nil {
		t.Fatal(err)
	}
	var file alertTests
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("%s: %v", alertTestsFile, err)
	}
	if len(file.RuleFiles) != 1 || filepath.Join("monitoring", file.RuleFiles[0]) != alertsFile {
		t.Fatalf("rule_files = %v, want [alerts.yml]", file.RuleFiles)
	}
	every := time.Duration(file.EvaluationInterval)
	if every <= 0 {
		every = time.Minute
	}
	groups := loadAlertRules(t)
	fired := map[string]bool{}

	for i, tc := range file.Tests {
		name := tc.Name
		if name == "" {
			name = fmt.Sprint(i)
		}
		t.Run(name, func(t *testing.T) {
			interval := time.Duration(tc.Interval)
			if interval <= 0 {
				interval = every
			}
			var load strings.Builder
			fmt.Fprintf(&load, "load %s\n", model.Duration(interval))
			for _, s := range tc.InputSeries {
				fmt.Fprintf(&load, "  %s %s\n", s.Series, s.Values)
			}
			storage := promqltest.LoadedStorage(t, load.String())
			engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
			query := rules.EngineQueryFunc(engine, storage)

			var alerting []*rules.AlertingRule
			for _, g := range groups.Groups {
				for _, r := range g.Rules {
					if r.Alert == "" {
						continue
					}
					expr, err := promParser().ParseExpr(r.Expr)
					if err != nil {
						t.Fatalf("%s: %v", r.Alert, err)
					}
					alerting = append(alerting, rules.NewAlertingRule(r.Alert, expr, time.Duration(r.For), time.Duration(r.KeepFiringFor),
						labels.FromMap(r.Labels), labels.FromMap(r.Annotations), labels.EmptyLabels(), "", true, slog.New(slog.DiscardHandler)))
				}
			}

			checks := map[time.Duration][]int{}
			var last time.Duration
			for j, c := range tc.AlertRuleTest {
				at := time.Duration(c.EvalTime)
				checks[at] = append(checks[at], j)
				last = max(last, at)
				if !slices.ContainsFunc(alerting, func(r *rules.AlertingRule) bool { return r.Name() == c.Alertname }) {
					t.Fatalf("no alert %q in %s", c.Alertname, alertsFile)
				}
			}
			for at := time.Duration(0); at <= last; at += every {
				ts := time.Unix(0, 0).UTC().Add(at)
				for _, r := range alerting {
					if _, err := r.Eval(context.Background(), 0, ts, query, nil, 0); err != nil {
						t.Fatalf("%s at %s: %v", r.Name(), at, err)
					}
				}
				for _, j := range checks[at] {
					c := tc.AlertRuleTest[j]
					var got []string
					gotAnn := map[string]map[string]string{}
					for _, r := range alerting {
						if r.Name() != c.Alertname {
							continue
						}
						for _, a := range r.ActiveAlerts() {
							if a.State != rules.StateFiring {
								continue
							}
							ls := a.Labels.Map()
							delete(ls, "alertname")
							key := fmt.Sprint(sortedMap(ls))
							got = append(got, key)
							gotAnn[key] = a.Annotations.Map()
						}
					}
					var want []string
					for _, e := range c.ExpAlerts {
						key := fmt.Sprint(sortedMap(e.ExpLabels))
						want = append(want, key)
						for k, v := range e.ExpAnnotations {
							if ann, ok := gotAnn[key]; ok && ann[k] != v {
								t.Errorf("%s at %s: annotation %s = %q, want %q", c.Alertname, at, k, ann[k], v)
							}
						}
					}
					sort.Strings(got)
					sort.Strings(want)
					if !slices.Equal(got, want) {
						t.Errorf("%s at %s: firing %v, want %v", c.Alertname, at, got, want)
					}
					if len(want) > 0 {
						fired[c.Alertname] = true
					}
				}
			}
		})
	}
	for _, w := range wantAlerts {
		if !fired[w] {
			t.Errorf("no test in %s makes %s fire", alertTestsFile, w)
		}
	}
}

func sortedMap(m map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}

// dashboardQueries returns every Prometheus query of the Grafana dashboard,
// by panel title.
func dashboardQueries(t *testing.T) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Fatalf("dashboard without uid or title")
	}
	out := map[string][]string{}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			out[p.Title] = append(out[p.Title], tg.Expr)
		}
	}
	return out
}

// grafanaVars replaces the dashboard's template variables with what
// Grafana would put there, so the query parses as Prometheus receives it.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$instance", ".*", "${instance}", ".*")

func TestDashboardQueriesParse(t *testing.T) {
	queries := dashboardQueries(t)
	// The panels the issue asks for.
	for _, want := range []string{"Send rate", "Send latency", "Deliveries", "WebSocket connections", "Search index lag",
		"Outbox backlog", "Database pool", "Errors by route", "Goroutines", "Memory", "NATS connected", "Slow-consumer closes"} {
		if _, ok := queries[want]; !ok {
			t.Errorf("no panel %q", want)
		}
	}
	for title, qs := range queries {
		for _, q := range qs {
			if _, err := promParser().ParseExpr(grafanaVars.Replace(q)); err != nil {
				t.Errorf("panel %q: %q: %v", title, q, err)
			}
		}
	}
}

// metricNames returns the metric names an expression selects.
func metricNames(t *testing.T, q string) []string {
	t.Helper()
	expr, err := promParser().ParseExpr(grafanaVars.Replace(q))
	if err != nil {
		t.Fatalf("%q: %v", q, err)
	}
	var names []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// monitoredMetrics: every metric named by an alert rule or a dashboard
// query, except those Prometheus makes itself.
func monitoredMetrics(t *testing.T) []string {
	t.Helper()
	set := map[string]bool{}
	for _, g := range loadAlertRules(t).Groups {
		for _, r := range g.Rules {
			for _, n := range metricNames(t, r.Expr) {
				set[n] = true
			}
		}
	}
	for _, qs := range dashboardQueries(t) {
		for _, q := range qs {
			for _, n := range metricNames(t, q) {
				set[n] = true
			}
		}
	}
	delete(set, "up") // the scrape's own
	if len(set) < 10 {
		t.Fatalf("only %d metrics named: %v", len(set), slices.Sorted(maps.Keys(set)))
	}
	return slices.Sorted(maps.Keys(set))
}

var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
