/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package explain_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
	"github.com/shcr-io/shcr-operator/internal/plugin/explain"
	"github.com/shcr-io/shcr-operator/test/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

func report(t *testing.T, args ...string) explain.Report {
	t.Helper()
	var r explain.Report
	if err := json.Unmarshal([]byte(plugintest.MustRun(t, explain.NewCommand, append(args, "-o", "json")...)), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestExplainGivesTheGatewaysDecisionAndReasons(t *testing.T) {
	s := plugintest.SharedScenario(t)
	clinicians := s.Namespace + "/" + s.Clinicians
	ask := func(extra ...string) []string {
		return append([]string{"--region", s.Region, "--org", s.Trust, "--role", "R8000", "--source", s.GP}, extra...)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		allow   bool
		reasons []string
	}{
		{"allowed", ask("--category", "Medications"), true,
			[]string{"allowed by policy " + clinicians + " under agreement " + s.AgreementID + " version 1"}},
		{"category outside the agreement", ask("--category", "Preferences"), false,
			[]string{"category Preferences not granted"}},
		{"no legitimate relationship", ask("--category", "Medications", "--no-relationship"), false,
			[]string{"legitimate relationship required"}},
		{"break-glass the policy does not allow", ask("--category", "Medications", "--no-relationship", "--break-glass-reason", "collapsed in clinic"), false,
			[]string{"legitimate relationship required", "break-glass is not configured for policy " + clinicians}},
		{"emergency purpose without break-glass", ask("--category", "Medications", "--purpose", "ETREAT"), false,
			[]string{"purpose of use ETREAT is not granted by policy " + clinicians}},
		{"role not granted", ask("--category", "Medications", "--role", "R8003"), false,
			[]string{"role R8003 is not granted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := report(t, tc.args...)
			if !strings.Contains(r.PolicyFrom, "ConfigMap "+s.Namespace+"/policy-bundle") || len(r.Revision) != 64 {
				t.Errorf("decided by %q revision %q, want the stored bundle and its revision", r.PolicyFrom, r.Revision)
			}
			if len(r.Decisions) != 1 {
				t.Fatalf("%d decisions, want one for --source", len(r.Decisions))
			}
			d := r.Decisions[0]
			if d.Allow != tc.allow || !slices.Equal(d.Reasons, tc.reasons) {
				t.Errorf("allow=%v reasons %q, want %v %q", d.Allow, d.Reasons, tc.allow, tc.reasons)
			}
			if tc.allow && (d.Agreement != s.AgreementID || d.AgreementVersion != 1 || d.Policy != clinicians || d.ValidFrom == nil) {
				t.Errorf("allowed under %s v%d by %s from %v, want %s v1 by %s", d.Agreement, d.AgreementVersion, d.Policy, d.ValidFrom, s.AgreementID, clinicians)
			}
		})
	}
}

func TestExplainWithoutSourceDecidesForEveryProviderAndFromObjectsAgrees(t *testing.T) {
	s := plugintest.SharedScenario(t)
	args := []string{"--region", s.Region, "--org", s.Council, "--role", "R8003", "--category", "CarePlans"}
	stored := report(t, args...)
	objects := report(t, append(args, "--from-objects")...)
	if !strings.Contains(objects.PolicyFrom, "--from-objects") || objects.Revision != stored.Revision {
		t.Errorf("--from-objects: %q revision %s, want the objects compiled to the stored revision %s", objects.PolicyFrom, objects.Revision, stored.Revision)
	}
	providers := []string{s.Council, s.GP, s.Trust}
	slices.Sort(providers)
	for _, r := range []explain.Report{stored, objects} {
		var sources []string
		for _, d := range r.Decisions {
			sources = append(sources, d.Source)
			if !d.Allow || d.Policy != s.Namespace+"/"+s.CareWorkers {
				t.Errorf("%s: %+v, want the care workers' policy to allow CarePlans", d.Source, d)
			}
		}
		if !slices.Equal(sources, providers) {
			t.Errorf("decided for %v, want every provider %v", sources, providers)
		}
	}

	text := plugintest.MustRun(t, explain.NewCommand, args...)
	for _, want := range []string{"the bundle the gateway enforces", "Records from " + s.GP + ": ALLOW",
		"policy     " + s.Namespace + "/" + s.CareWorkers, "legitimate relationship asserted"} {
		if !strings.Contains(text, want) {
			t.Errorf("the explanation does not say %q:\n%s", want, text)
		}
	}
}

func TestExplainRefusesAnUnknownCategoryOrPurpose(t *testing.T) {
	for _, tc := range []struct{ flag, value, want string }{
		{"--category", "Genomics", "is not a data category: use one of Allergies"},
		{"--purpose", "HRESCH", "use TREAT, or ETREAT"},
	} {
		args := []string{"--region", "plugin", "--org", "RP8", "--role", "R8000", "--category", "Medications", tc.flag, tc.value}
		if _, err := plugintest.Run(explain.NewCommand, args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: error %v, want one saying %q", tc.flag, tc.value, err, tc.want)
		}
	}
}

func TestExplainFlagsAnAllowThatNeedsBreakGlass(t *testing.T) {
	s := plugintest.SharedScenario(t)
	emergency := s.Policy("emergency", []string{"R8001"}, []string{s.Trust}, "Allergies")
	emergency.Spec.PurposesOfUse = []shcrv1alpha1.PurposeOfUse{shcrv1alpha1.PurposeTreat, shcrv1alpha1.PurposeEmergencyTreat}
	emergency.Spec.BreakGlass = &shcrv1alpha1.BreakGlass{AllowedRoles: []string{"R8001"}, MaxDuration: "1h"}
	plugintest.Create(t, emergency)
	s.WaitBundleGrants(t, 3)

	args := []string{"--region", s.Region, "--org", s.Trust, "--role", "R8001", "--category", "Allergies", "--source", s.GP,
		"--purpose", "ETREAT", "--no-relationship", "--break-glass-reason", "anaphylaxis, patient unconscious"}
	d := report(t, args...).Decisions[0]
	if !d.Allow || !d.BreakGlass || d.Policy != s.Namespace+"/emergency" {
		t.Errorf("%+v, want an allow by the emergency policy flagged as break-glass", d)
	}
	if text := plugintest.MustRun(t, explain.NewCommand, args...); !strings.Contains(text, "ALLOW (break-glass emergency override, audited)") {
		t.Errorf("the explanation does not flag the override:\n%s", text)
	}
}

// Asked about an instant after the agreement's end or before its start,
// explain says so and when, besides the decider's own reasons; a role the
// agreement never granted gets no such words.
func TestExplainSaysWhenTheAgreementHasEndedOrNotBegun(t *testing.T) {
	s := plugintest.SharedScenario(t)
	ask := func(at time.Time, extra ...string) explain.Decision {
		args := append([]string{"--region", s.Region, "--org", s.Trust, "--source", s.GP, "--category", "Medications",
			"--at", at.UTC().Format(time.RFC3339)}, extra...)
		if !slices.Contains(extra, "--role") {
			args = append(args, "--role", "R8000")
		}
		r := report(t, args...)
		if len(r.Decisions) != 1 {
			t.Fatalf("%d decisions, want one for --source", len(r.Decisions))
		}
		return r.Decisions[0]
	}
	allowed := ask(time.Now())
	if !allowed.Allow || allowed.ValidFrom == nil || allowed.ValidUntil == nil {
		t.Fatalf("now: allow=%v %q, want allowed with its window", allowed.Allow, allowed.Reasons)
	}
	from, until := allowed.ValidFrom.UTC(), allowed.ValidUntil.UTC()
	version := s.AgreementID + " version 1 (phase Active)"
	for _, tc := range []struct {
		name string
		at   time.Time
		want string
	}{
		{"at its end", until, "agreement " + version + " ended at " + cli.FormatTime(until) + ": nothing is shared under it after that"},
		{"years after", until.AddDate(3, 0, 0), "agreement " + version + " ended at " + cli.FormatTime(until)},
		{"just before its start", from.Add(-time.Second), "agreement " + version + " has not yet begun: it takes effect at " + cli.FormatTime(from)},
		{"years before", from.AddDate(-3, 0, 0), "agreement " + version + " has not yet begun"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := ask(tc.at)
			if d.Allow || !slices.ContainsFunc(d.Reasons, func(r string) bool { return strings.HasPrefix(r, tc.want) }) {
				t.Errorf("allow=%v reasons %q, want denied with %q", d.Allow, d.Reasons, tc.want)
			}
		})
	}
	// Outside the window, a role the agreement never allowed says only that.
	for _, at := range []time.Time{until.AddDate(1, 0, 0), from.AddDate(-1, 0, 0)} {
		d := ask(at, "--role", "R8003")
		if d.Allow || slices.ContainsFunc(d.Reasons, func(r string) bool {
			return strings.Contains(r, version+" ended at") || strings.Contains(r, version+" has not yet begun")
		}) {
			t.Errorf("role R8003 at %s: allow=%v reasons %q, want denied with no word of the agreement's window", at, d.Allow, d.Reasons)
		}
	}
}

// An agreement that has really ended (its parties no longer share, so the
// bundle holds none of its grants) and one still to begin are named, with
// when, where the bundle alone could say only that the role is not granted.
func TestExplainNamesAnEndedOrFutureAgreementTheBundleNoLongerHolds(t *testing.T) {
	s := plugintest.NewScenario(t, "ended", "Q")
	now := time.Now().Truncate(time.Second)
	for _, tc := range []struct {
		name, id, role string
		from, until    time.Time
		phase          shcrv1alpha1.AgreementPhase
	}{
		{"ended", "ENDED-DSA", "R8001", now.Add(-2 * time.Hour), now.Add(-time.Hour), shcrv1alpha1.PhaseExpired},
		{"later", "LATER-DSA", "R8002", now.AddDate(0, 1, 0), now.AddDate(1, 0, 0), shcrv1alpha1.PhasePending},
	} {
		a := s.Agreement(tc.name, 1, plugintest.AllButPreferences, tc.from, tc.until)
		a.Spec.AgreementID = tc.id
		plugintest.Create(t, a)
		s.Approve(t, tc.name)
		plugintest.WaitPhase(t, s.Namespace, tc.name, tc.phase)
		p := s.Policy(tc.name, []string{tc.role}, nil, shcrv1alpha1.CategoryMedications)
		p.Spec.AgreementID = tc.id
		plugintest.Create(t, p)
	}
	for _, tc := range []struct{ role, want string }{
		{"R8001", "agreement ENDED-DSA version 1 (phase Expired) ended at " + cli.FormatTime(now.Add(-time.Hour)) + ": nothing is shared under it after that"},
		{"R8002", "agreement LATER-DSA version 1 (phase Pending) has not yet begun: it takes effect at " + cli.FormatTime(now.AddDate(0, 1, 0))},
	} {
		r := report(t, "--region", s.Region, "--org", s.Trust, "--role", tc.role, "--source", s.GP, "--category", "Medications")
		if len(r.Decisions) != 1 {
			t.Fatalf("%d decisions, want one for --source", len(r.Decisions))
		}
		if d := r.Decisions[0]; d.Allow || !slices.Contains(d.Reasons, tc.want) {
			t.Errorf("role %s: allow=%v reasons %q, want denied with %q", tc.role, d.Allow, d.Reasons, tc.want)
		}
	}
}
