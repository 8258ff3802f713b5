/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// A region that is not assured under the IG Framework shares nothing: every
// read the policy would otherwise allow is refused with an OperationOutcome,
// and the audit event says "region not assured" and why.
func TestUnassuredRegionRefusesEveryReadSayingWhy(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	for _, tc := range []struct {
		name   string
		gate   policy.Assurance
		reason string
	}{
		{"never assured", policy.Assurance{Reason: "region not assured: CyberSecurity not assured"}, "region not assured: CyberSecurity not assured"},
		{"nothing recorded", policy.Assurance{}, "region not assured: no assurance"},
		{"lapsed", policy.Assurance{Assured: true, From: now.AddDate(-1, 0, 0), Until: now.Add(-time.Second)}, "its assurance lapsed at"},
		{"not yet in effect", policy.Assurance{Assured: true, From: now.Add(time.Hour), Until: now.AddDate(1, 0, 0)}, "its assurance takes effect at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(s *setup) { s.input.Assurance = tc.gate })
			for _, path := range []string{"/MedicationRequest/med-alice-b86", "/Patient/alice", "/Practitioner/prac-1"} {
				resp := h.get(t, path, clinician().sign(t))
				if resp.status != http.StatusForbidden || resp.outcome(t).Code != issueForbidden {
					t.Fatalf("%s: status %d %s", path, resp.status, resp.body)
				}
				events := h.audit.take(t)
				if len(events) != 1 || events[0].Outcome != auditOutcomeMinorFailure ||
					!strings.HasPrefix(events[0].OutcomeDesc, policy.NotAssuredPrefix) || !strings.Contains(events[0].OutcomeDesc, tc.reason) {
					t.Fatalf("%s: audit %+v", path, events)
				}
			}
			// A search returns nothing from an unassured region.
			resp := h.get(t, "/MedicationRequest?patient=Patient/alice", clinician().sign(t))
			if resp.status == http.StatusOK && strings.Contains(string(resp.body), `"resourceType":"MedicationRequest"`) {
				t.Fatalf("a search shared records: %s", resp.body)
			}
		})
	}
}
