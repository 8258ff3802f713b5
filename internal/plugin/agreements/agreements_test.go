/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package agreements_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/plugin/agreements"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
	"github.com/shcr-io/shcr-operator/test/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

func register(t *testing.T, args ...string) []agreements.Entry {
	t.Helper()
	var entries []agreements.Entry
	if err := json.Unmarshal([]byte(plugintest.MustRun(t, agreements.NewCommand, append(args, "-o", "json")...)), &entries); err != nil {
		t.Fatal(err)
	}
	return entries
}

func ids(entries []agreements.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.AgreementID)
	}
	return out
}

func TestRegisterShowsPartiesApprovalsWithRecorderAndTermsHash(t *testing.T) {
	s := plugintest.SharedScenario(t)
	entries := register(t, "--region", s.Region)
	i := slices.IndexFunc(entries, func(e agreements.Entry) bool { return e.AgreementID == s.AgreementID })
	if i < 0 {
		t.Fatalf("%s is not in the register %v", s.AgreementID, ids(entries))
	}
	e := entries[i]
	if e.Version != 1 || e.Phase != string(shcrv1alpha1.PhaseActive) || !strings.HasPrefix(e.TermsHash, "sha256:") {
		t.Errorf("version %d phase %q terms hash %q, want 1, Active and a sha256 hash", e.Version, e.Phase, e.TermsHash)
	}
	if got, want := e.PartyList(), strings.Join([]string{s.GP + ":Controller", s.Trust + ":Controller", s.Council + ":Controller"}, ","); got != want {
		t.Errorf("parties %q, want %q", got, want)
	}
	if len(e.Approvals) != 3 {
		t.Fatalf("approvals %v, want one from each of the three controllers", e.Approvals)
	}
	for _, a := range e.Approvals {
		if a.RecordedBy != plugintest.Signer(a.Organisation) {
			t.Errorf("approval by %s recorded by %q, want the signer %q", a.Organisation, a.RecordedBy, plugintest.Signer(a.Organisation))
		}
	}

	wide := plugintest.MustRun(t, agreements.NewCommand, "-n", s.Namespace, "-o", "wide")
	for _, want := range []string{"AGREEMENT", "TERMS HASH", s.AgreementID, s.Trust + ":Controller", "Medications",
		"recorded by " + plugintest.Signer(s.Trust), cli.ShortHash(e.TermsHash)} {
		if !strings.Contains(wide, want) {
			t.Errorf("the wide table does not show %q:\n%s", want, wide)
		}
	}
	table := plugintest.MustRun(t, agreements.NewCommand, "-n", s.Namespace)
	for _, want := range []string{"AGREEMENT", "APPROVALS", s.AgreementID, "Active", "3/3", cli.FormatDate(e.EndsOn)} {
		if !strings.Contains(table, want) {
			t.Errorf("the table does not show %q:\n%s", want, table)
		}
	}
}

// The default table fits a 120-column terminal, with every namespace too,
// however many parties, categories and approvals a version has; -o wide
// has the rest.
func TestTheDefaultTableFits120Columns(t *testing.T) {
	s := plugintest.SharedScenario(t)
	long := s.Agreement("long-register-entry", 1, plugintest.AllButPreferences, time.Now(), time.Now().AddDate(1, 0, 0))
	long.Spec.AgreementID = "A-RATHER-LONG-AGREEMENT-IDENTIFIER"
	plugintest.Create(t, long)
	for _, args := range [][]string{{"-n", s.Namespace}, {"-A"}} {
		out := plugintest.MustRun(t, agreements.NewCommand, args...)
		for line := range strings.Lines(out) {
			if n := utf8.RuneCountInString(strings.TrimRight(line, "\n")); n > 120 {
				t.Errorf("%v: a line of %d columns:\n%s", args, n, line)
			}
		}
		if !strings.Contains(out, "A-RATHER-LONG-AGREEMENT-IDENTIFIER") {
			t.Errorf("%v: the table lacks the long entry:\n%s", args, out)
		}
	}
}

func TestExpiringKeepsAgreementsEndingOrDueForReviewWithinTheDuration(t *testing.T) {
	s := plugintest.SharedScenario(t)
	now := time.Now()
	ending := s.Agreement("ends-soon", 1, plugintest.CareCategories, now.Add(-time.Hour), now.AddDate(0, 0, 10))
	ending.Spec.AgreementID = "ENDS-SOON"
	review := s.Agreement("review-soon", 1, plugintest.CareCategories, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	review.Spec.AgreementID = "REVIEW-SOON"
	review.Spec.Terms.ReviewDate = &metav1.Time{Time: now.AddDate(0, 0, 20).Truncate(time.Second)}
	plugintest.Create(t, ending)
	plugintest.Create(t, review)

	for _, tc := range []struct {
		expiring string
		want     []string
	}{
		{"30d", []string{"ENDS-SOON", "REVIEW-SOON"}},
		{"15d", []string{"ENDS-SOON"}},
		{"216h", nil}, // nine days: ends-soon ends on the tenth
		{"1d12h", nil},
	} {
		got := ids(register(t, "--region", s.Region, "--expiring", tc.expiring))
		if !slices.Equal(got, tc.want) {
			t.Errorf("--expiring %s listed %v, want %v", tc.expiring, got, tc.want)
		}
	}

	if out := plugintest.MustRun(t, agreements.NewCommand, "--region", s.Region, "--expiring", "1d12h"); strings.TrimSpace(out) !=
		"None: no agreement in "+s.Namespace+" ends or is due for review within 36h0m0s." {
		t.Errorf("--expiring with nothing expiring printed %q, want a line saying none", out)
	}
	all := plugintest.MustRun(t, agreements.NewCommand, "-A", "--expiring", "30d")
	if !strings.Contains(all, "NAMESPACE") || !strings.Contains(all, s.Namespace) || strings.Contains(all, s.AgreementID) {
		t.Errorf("-A --expiring 30d should list both expiring agreements with their namespace and nothing else:\n%s", all)
	}
}

func TestFlagErrorsSayWhatToFix(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-A", "--region", "plugin"}, cli.ErrRegionWithAllNamespaces.Error()},
		{[]string{"--region", "plugin", "-n", "default"}, "give only one of them"},
		{[]string{"-n", "default"}, "not a region namespace"},
		{[]string{"--region", "plugin", "--expiring", "soon"}, "such as 30d"},
		{[]string{"--region", "plugin", "-o", "csv"}, "use table, wide, json, yaml"},
	} {
		_, err := plugintest.Run(agreements.NewCommand, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one saying %q", tc.args, err, tc.want)
		}
		if errors.Is(err, cli.ErrRegionWithAllNamespaces) != (tc.want == cli.ErrRegionWithAllNamespaces.Error()) {
			t.Errorf("%v: error %v should wrap ErrRegionWithAllNamespaces only for -A with a region", tc.args, err)
		}
	}
}
