/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package governance

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

func TestAdmit(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	member := func(status shcrv1alpha1.DSPTStatus, assessed string, suspended bool) *shcrv1alpha1.MemberOrganisation {
		m := &shcrv1alpha1.MemberOrganisation{}
		m.Spec.Governance.DSPT = shcrv1alpha1.DSPTAssessment{Status: status, AssessedOn: assessed}
		m.Spec.Suspended = suspended
		return m
	}
	cases := []struct {
		name     string
		m        *shcrv1alpha1.MemberOrganisation
		admitted bool
		reason   string
	}{
		{"standards met, recent", member(shcrv1alpha1.DSPTStandardsMet, "2026-06-30", false), true, shcrv1alpha1.ReasonAdmitted},
		{"standards exceeded", member(shcrv1alpha1.DSPTStandardsExceeded, "2026-06-30", false), true, shcrv1alpha1.ReasonAdmitted},
		{"approaching standards", member(shcrv1alpha1.DSPTApproachingStandards, "2026-06-30", false), false, shcrv1alpha1.ReasonDSPTNotMet},
		{"standards not met", member(shcrv1alpha1.DSPTStandardsNotMet, "2026-06-30", false), false, shcrv1alpha1.ReasonDSPTNotMet},
		{"exactly 12 months old", member(shcrv1alpha1.DSPTStandardsMet, "2025-11-25", false), false, shcrv1alpha1.ReasonDSPTExpired},
		{"a day short of 12 months", member(shcrv1alpha1.DSPTStandardsMet, "2025-11-26", false), true, shcrv1alpha1.ReasonAdmitted},
		{"assessed in the future", member(shcrv1alpha1.DSPTStandardsMet, "2027-01-01", false), false, shcrv1alpha1.ReasonInvalidSpec},
		{"not a date", member(shcrv1alpha1.DSPTStandardsMet, "soon", false), false, shcrv1alpha1.ReasonInvalidSpec},
		{"suspended", member(shcrv1alpha1.DSPTStandardsMet, "2026-06-30", true), false, shcrv1alpha1.ReasonSuspended},
	}
	for _, tc := range cases {
		a := Admit(tc.m, now)
		if a.Admitted != tc.admitted || a.Reason != tc.reason {
			t.Errorf("%s: admitted=%v reason=%s, want %v %s (%s)", tc.name, a.Admitted, a.Reason, tc.admitted, tc.reason, a.Message)
		}
	}
	if a := Admit(member(shcrv1alpha1.DSPTStandardsMet, "2026-06-30", false), now); !a.ExpiresAt.Equal(time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("admission should expire 12 months after assessment, got %v", a.ExpiresAt)
	}
}

func TestMissingApprovalsCountOnlyRecordedControllerApprovals(t *testing.T) {
	spec := &shcrv1alpha1.DataSharingAgreementSpec{
		Terms: shcrv1alpha1.AgreementTerms{Parties: []shcrv1alpha1.Party{
			{ODSCode: "RTH", Role: shcrv1alpha1.PartyController},
			{ODSCode: "K84001", Role: shcrv1alpha1.PartyJointController},
			{ODSCode: "X26", Role: shcrv1alpha1.PartyProcessor},
		}},
		Approvals: []shcrv1alpha1.Approval{
			{Organisation: "RTH", RecordedBy: "caldicott@rth"},
			{Organisation: "K84001"}, // not recorded by the webhook: does not count
		},
	}
	if got := MissingApprovals(spec); len(got) != 1 || got[0] != "K84001" {
		t.Errorf("missing %v, want [K84001] (processors do not sign; unrecorded approvals do not count)", got)
	}
	spec.Approvals[1].RecordedBy = "caldicott@k84001"
	if got := MissingApprovals(spec); len(got) != 0 {
		t.Errorf("missing %v, want none", got)
	}
}

func TestTermsHashIsCanonical(t *testing.T) {
	from := metav1.NewTime(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	terms := func() *shcrv1alpha1.AgreementTerms {
		return &shcrv1alpha1.AgreementTerms{
			Parties: []shcrv1alpha1.Party{{ODSCode: "RTH", Role: "Controller"}, {ODSCode: "K84001", Role: "Controller"}},
			Purpose: "DirectCare", LawfulBasis: shcrv1alpha1.LawfulBasis{Article6: "6(1)(e)", Article9: "9(2)(h)"},
			DataCategories: []shcrv1alpha1.DataCategory{"Medications", "Allergies"},
			EffectiveFrom:  from, EndsOn: metav1.NewTime(from.AddDate(1, 0, 0)), DPIAReference: "D1",
		}
	}
	a, b := terms(), terms()
	b.Parties[0], b.Parties[1] = b.Parties[1], b.Parties[0]
	b.DataCategories[0], b.DataCategories[1] = b.DataCategories[1], b.DataCategories[0]
	b.EffectiveFrom = metav1.NewTime(from.In(time.FixedZone("BST", 3600)))
	if TermsHash(a, "tvs") != TermsHash(b, "tvs") {
		t.Errorf("the order of parties and categories, or a time zone, must not change the hash")
	}
	c := terms()
	c.DataCategories = append(c.DataCategories, "TestResults")
	if TermsHash(a, "tvs") == TermsHash(c, "tvs") {
		t.Errorf("a change of categories must change the hash")
	}
	north, south := terms(), terms()
	north.Journey, north.PeerRegion = shcrv1alpha1.JourneyCrossRegion, "south"
	south.Journey, south.PeerRegion = shcrv1alpha1.JourneyCrossRegion, "north"
	if TermsHash(north, "north") != TermsHash(south, "south") {
		t.Errorf("the two copies of a cross-region agreement must have the same hash")
	}
	if TermsHash(north, "north") == TermsHash(north, "east") {
		t.Errorf("the hash must bind the regions")
	}
	const want = `{"parties":[{"odsCode":"K84001","role":"Controller"},{"odsCode":"RTH","role":"Controller"}],"purpose":"DirectCare","article6":"6(1)(e)","article9":"9(2)(h)","otherPurpose":"","dataCategories":["Allergies","Medications"],"sensitiveData":"","retentionDays":0,"effectiveFrom":"2026-04-01T00:00:00Z","endsOn":"2027-04-01T00:00:00Z","reviewDate":"","dpiaReference":"D1","journey":"","regions":["tvs"]}`
	if got := string(CanonicalTerms(a, "tvs")); got != want {
		t.Errorf("canonical form changed — it is documented in docs/agreements.md and compared across regions:\n got %s\nwant %s", got, want)
	}
}

func TestPolicyMembersKeepTheAdmittedHolderOfACode(t *testing.T) {
	member := func(name string, admitted bool) shcrv1alpha1.MemberOrganisation {
		m := shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1}}
		m.Spec.ODSCode = "K84001"
		if admitted {
			m.Status.Conditions = []metav1.Condition{{Type: shcrv1alpha1.ConditionAdmitted, Status: "True", ObservedGeneration: 1}}
		}
		return m
	}
	for _, order := range [][]shcrv1alpha1.MemberOrganisation{
		{member("copycat", false), member("gp", true)},
		{member("gp", true), member("copycat", false)},
	} {
		got := PolicyMembers(order, "tvs")
		if len(got) != 1 || !got[0].Admitted {
			t.Errorf("one admitted entry for the code, whatever the order: %+v", got)
		}
	}
}
