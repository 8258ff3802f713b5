/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package alerts

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

var root = filepath.Join("..", "..")

// prometheusRule is the part of a PrometheusRule object the tests read: its
// spec is a Prometheus rule file.
type prometheusRule struct {
	Kind string         `yaml:"kind"`
	Spec map[string]any `yaml:"spec"`
}

// ruleFiles are the rule files shipped: the chart's PrometheusRule, as
// helm renders it with the rules enabled, and config/prometheus/rules.yaml.
func ruleFiles(t *testing.T) map[string][]byte {
	t.Helper()
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Fatal("HELM is not set: run with 'make test-alerts' (it builds the pinned helm)")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(helm, "template", "shcr", filepath.Join(root, "charts", "shcr-operator"), "--kube-version", "1.37.2",
		"--show-only", "templates/prometheusrule.yaml", "--set", "metrics.prometheusRule.enabled=true")
	cmd.Stderr = &stderr
	chart, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr.String())
	}
	kustomize, err := os.ReadFile(filepath.Join(root, "config", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for name, manifest := range map[string][]byte{"chart": chart, "config/prometheus": kustomize} {
		var pr prometheusRule
		if err := yaml.Unmarshal(manifest, &pr); err != nil || pr.Kind != "PrometheusRule" {
			t.Fatalf("%s: not a PrometheusRule (%v):\n%s", name, err, manifest)
		}
		spec, err := yaml.Marshal(pr.Spec)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = spec
	}
	return out
}

// alertingRules parses a rule file as promtool check rules does, and builds
// every alerting rule in it with Prometheus's rule engine.
func alertingRules(t *testing.T, name string, file []byte) map[string]*rules.AlertingRule {
	t.Helper()
	p := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.Parse(file, false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatalf("%s: the rules do not parse: %v", name, errs)
	}
	out := map[string]*rules.AlertingRule{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			expr, err := p.ParseExpr(r.Expr)
			if err != nil {
				t.Fatalf("%s: alert %s: %v", name, r.Alert, err)
			}
			out[r.Alert] = rules.NewAlertingRule(r.Alert, expr, time.Duration(r.For), time.Duration(r.KeepFiringFor),
				labels.FromMap(r.Labels), labels.FromMap(r.Annotations), labels.EmptyLabels(), "", false, slog.New(slog.DiscardHandler))
		}
	}
	return out
}

// firing evaluates rule every minute from the start of the series to at,
// as Prometheus's rule manager does, and returns the label set of each
// alert firing at at, as "namespace/organisation".
func firing(t *testing.T, rule *rules.AlertingRule, series string, at time.Duration) []string {
	t.Helper()
	return firingBy(t, rule, series, at, "organisation")
}

// firingBy is firing naming each alert by its namespace and the label by.
func firingBy(t *testing.T, rule *rules.AlertingRule, series string, at time.Duration, by string) []string {
	t.Helper()
	storage := promqltest.LoadedStorage(t, series)
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 50000)
	query := rules.EngineQueryFunc(engine, storage)
	start := time.Unix(0, 0).UTC()
	for ts := start; !ts.After(start.Add(at)); ts = ts.Add(time.Minute) {
		if _, err := rule.Eval(context.Background(), 0, ts, query, nil, 0); err != nil {
			t.Fatalf("evaluating %s at %s: %v", rule.Name(), ts.Sub(start), err)
		}
	}
	var out []string
	for _, a := range rule.ActiveAlerts() {
		if a.State == rules.StateFiring {
			out = append(out, a.Labels.Get("namespace")+"/"+a.Labels.Get(by))
		}
	}
	slices.Sort(out)
	return out
}

// The series a gateway writes: an organisation whose counter was set up at
// 0 and then counts, one whose series is born already counting (the first
// override since the gateway started), one that never breaks glass, and
// one that broke glass an hour ago and not since. Two gateway replicas of
// one region count separately.
const breakGlassSeries = `
load 1m
  shcr_gateway_break_glass_total{namespace="shcr-tvs", pod="record-gateway-0", organisation="RR8"}    0 0 0 0 0 0 0 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1
  shcr_gateway_break_glass_total{namespace="shcr-tvs", pod="record-gateway-1", organisation="B86001"} _ _ _ _ _ _ _ _ _ _ 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1
  shcr_gateway_break_glass_total{namespace="shcr-tvs", pod="record-gateway-0", organisation="OXCC1"}  0x80
  shcr_gateway_break_glass_total{namespace="shcr-nel", pod="record-gateway-0", organisation="R1H"}    0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1
`

func TestBreakGlassAlertFiresForEveryOrganisationThatBrokeGlassAndOnlyThen(t *testing.T) {
	for name, file := range ruleFiles(t) {
		rule := alertingRules(t, name, file)["ShCRBreakGlassUsed"]
		if rule == nil {
			t.Errorf("%s: no ShCRBreakGlassUsed alert", name)
			continue
		}
		for _, tc := range []struct {
			at   time.Duration
			want []string
		}{
			{9 * time.Minute, []string{"shcr-nel/R1H"}},                                     // R1H broke glass at 1m
			{12 * time.Minute, []string{"shcr-nel/R1H", "shcr-tvs/B86001", "shcr-tvs/RR8"}}, // both tvs organisations at 10m, a born-at-1 series too
			{22 * time.Minute, []string{"shcr-tvs/B86001", "shcr-tvs/RR8"}},                 // R1H's was 21 minutes ago: resolved
			{40 * time.Minute, nil}, // nothing in the last 15 minutes
		} {
			// A fresh rule each time: evaluation from the start to tc.at.
			fresh := alertingRules(t, name, file)["ShCRBreakGlassUsed"]
			if got := firing(t, fresh, breakGlassSeries, tc.at); !slices.Equal(got, tc.want) {
				t.Errorf("%s: at %s firing for %v, want %v", name, tc.at, got, tc.want)
			}
		}
		if s := rule.Annotations().Get("summary"); !strings.Contains(s, "{{ $labels.organisation }}") {
			t.Errorf("%s: the summary %q does not name the organisation", name, s)
		}
		if d := rule.Annotations().Get("description"); !strings.Contains(d, "kubectl shcr break-glass") {
			t.Errorf("%s: the description %q does not say how to review", name, d)
		}
	}
}

// The series of three gateway pods: one whose audit writes fail at 10m
// (its counter set up at 0), one whose refusals' events are dropped for a
// failed write at 20m (a series born counting), one that never fails; and
// a rate-limited drop, which is not a failed write.
const auditFailureSeries = `
load 1m
  shcr_gateway_audit_write_errors_total{namespace="shcr-tvs", pod="record-gateway-0"} 0 0 0 0 0 0 0 0 0 0 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2
  shcr_gateway_audit_write_errors_total{namespace="shcr-tvs", pod="record-gateway-1"} 0x60
  shcr_gateway_refusal_audit_events_dropped_total{namespace="shcr-tvs", pod="record-gateway-1", reason="write-failed"} _x19 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1
  shcr_gateway_audit_write_errors_total{namespace="shcr-nel", pod="record-gateway-0"} 0x60
  shcr_gateway_refusal_audit_events_dropped_total{namespace="shcr-nel", pod="record-gateway-0", reason="rate-limited"} 0 5 10 15 20 25 30 35 40 45 50 55 60 65 70 75 80 85 90 95 100 105 110 115 120 125 130 135 140 145 150
`

func TestAuditFailureAlertFiresForTheGatewayThatCannotWrite(t *testing.T) {
	for name, file := range ruleFiles(t) {
		for _, tc := range []struct {
			at   time.Duration
			want []string
		}{
			{8 * time.Minute, nil},
			{12 * time.Minute, []string{"shcr-tvs/record-gateway-0"}},
			{22 * time.Minute, []string{"shcr-tvs/record-gateway-1"}}, // gateway-0's failures were 12 minutes ago
			{40 * time.Minute, nil},
		} {
			rule := alertingRules(t, name, file)["ShCRGatewayAuditWritesFailing"]
			if rule == nil {
				t.Fatalf("%s: no ShCRGatewayAuditWritesFailing alert", name)
			}
			if got := firingBy(t, rule, auditFailureSeries, tc.at, "pod"); !slices.Equal(got, tc.want) {
				t.Errorf("%s: at %s firing for %v, want %v", name, tc.at, got, tc.want)
			}
		}
	}
}

// Two gateway pods observing 100 audit writes a minute: one all under a
// millisecond, one with 5 in 100 beyond 15 ms, so its p99 is past 10 ms.
const auditLatencySeries = `
load 1m
  shcr_gateway_audit_write_duration_seconds_bucket{namespace="shcr-tvs", pod="record-gateway-0", le="0.0009765625"}    0+100x60
  shcr_gateway_audit_write_duration_seconds_bucket{namespace="shcr-tvs", pod="record-gateway-0", le="0.0152587890625"} 0+100x60
  shcr_gateway_audit_write_duration_seconds_bucket{namespace="shcr-tvs", pod="record-gateway-0", le="+Inf"}            0+100x60
  shcr_gateway_audit_write_duration_seconds_bucket{namespace="shcr-tvs", pod="record-gateway-1", le="0.0009765625"}    0+90x60
  shcr_gateway_audit_write_duration_seconds_bucket{namespace="shcr-tvs", pod="record-gateway-1", le="0.0152587890625"} 0+95x60
  shcr_gateway_audit_write_duration_seconds_bucket{namespace="shcr-tvs", pod="record-gateway-1", le="+Inf"}            0+100x60
`

func TestSlowAuditWritesAlertAfterAQuarterHour(t *testing.T) {
	for name, file := range ruleFiles(t) {
		for _, tc := range []struct {
			at   time.Duration
			want []string
		}{
			{10 * time.Minute, nil}, // slow, but not yet for 15 minutes
			{20 * time.Minute, []string{"shcr-tvs/record-gateway-1"}},
		} {
			rule := alertingRules(t, name, file)["ShCRGatewayAuditWritesSlow"]
			if rule == nil {
				t.Fatalf("%s: no ShCRGatewayAuditWritesSlow alert", name)
			}
			if got := firingBy(t, rule, auditLatencySeries, tc.at, "pod"); !slices.Equal(got, tc.want) {
				t.Errorf("%s: at %s firing for %v, want %v", name, tc.at, got, tc.want)
			}
		}
	}
}

// Every alerting rule the chart ships parses and evaluates against an
// empty store without error (a typo in a metric name still evaluates: the
// break-glass test above is what catches that for its rule).
func TestEveryShippedAlertEvaluates(t *testing.T) {
	for name, file := range ruleFiles(t) {
		for alert, rule := range alertingRules(t, name, file) {
			if got := firing(t, rule, "load 1m\n  up 1x5", 5*time.Minute); len(got) != 0 {
				t.Errorf("%s: %s fires with no series: %v", name, alert, got)
			}
		}
	}
}
