/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package decisions_test

import (
	"encoding/json"
	"strings"
	"testing"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/plugin/decisions"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

// The decision log of a region is one command: the panel's eight
// assurances with their evidence and minutes, recorded by the chair, and
// the agreement's version and approvals, oldest first.
func TestDecisionLogListsAssurancesVersionsAndApprovals(t *testing.T) {
	s := plugintest.SharedScenario(t)
	out, err := plugintest.Run(decisions.NewCommand, "--region", s.Region, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var l decisions.Log
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	kinds := map[string]int{}
	for i, d := range l.Decisions {
		kinds[d.Kind]++
		if i > 0 && d.When.Before(l.Decisions[i-1].When) {
			t.Errorf("decision %d (%s) is older than the one before it", i, d.Subject)
		}
		if d.Kind == "Assurance" && (d.By != fixtures.AssurancePanelChair || !strings.HasPrefix(d.Evidence, "TEST-IG-") ||
			!strings.Contains(d.Rationale, "Assurance panel test minutes")) {
			t.Errorf("assurance %+v", d)
		}
	}
	if kinds["Assurance"] != len(shcrv1alpha1.IGRequirements) || kinds["AgreementVersion"] < 1 || kinds["Approval"] < 3 {
		t.Errorf("decisions by kind %v", kinds)
	}
	table, err := plugintest.Run(decisions.NewCommand, "--region", s.Region)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Decision log of region " + s.Region, "CyberSecurity", "Assured", s.AgreementID + " v1", "approved"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
}
