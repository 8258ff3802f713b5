/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package governance

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// An approval counts only when whoever recorded it is a signatory of every
// member holding its ODS code; every other recorder is not counted.
func TestCountApprovalsCountsOnlySignatories(t *testing.T) {
	member := func(ods string, s ...shcrv1alpha1.Signatory) shcrv1alpha1.MemberOrganisation {
		return shcrv1alpha1.MemberOrganisation{Spec: shcrv1alpha1.MemberOrganisationSpec{ODSCode: ods, Signatories: s}}
	}
	user := shcrv1alpha1.Signatory{Kind: shcrv1alpha1.SignatoryUser, Name: "reid"}
	group := shcrv1alpha1.Signatory{Kind: shcrv1alpha1.SignatoryGroup, Name: "gp-partners"}
	holders := map[string][]shcrv1alpha1.MemberOrganisation{"K84001": {member("K84001", user, group)}}
	spec := func(a shcrv1alpha1.Approval) *shcrv1alpha1.DataSharingAgreementSpec {
		a.Organisation, a.Signatory, a.Role, a.Date = "K84001", "Dr Reid", "CaldicottGuardian", metav1.NewTime(time.Unix(0, 0))
		return &shcrv1alpha1.DataSharingAgreementSpec{
			Terms:     shcrv1alpha1.AgreementTerms{Parties: []shcrv1alpha1.Party{{ODSCode: "K84001", Role: "Controller"}, {ODSCode: "RTH", Role: "Processor"}}},
			Approvals: []shcrv1alpha1.Approval{a},
		}
	}
	cases := []struct {
		name     string
		approval shcrv1alpha1.Approval
		holders  map[string][]shcrv1alpha1.MemberOrganisation
		counts   bool
	}{
		{"the User signatory", shcrv1alpha1.Approval{RecordedBy: "reid"}, holders, true},
		{"a member of the Group signatory", shcrv1alpha1.Approval{RecordedBy: "x", RecordedGroups: []string{"gp-partners"}}, holders, true},
		{"no recordedBy, even in the group", shcrv1alpha1.Approval{RecordedGroups: []string{"gp-partners"}}, holders, false},
		{"someone else", shcrv1alpha1.Approval{RecordedBy: "mallory", RecordedGroups: []string{"system:masters"}}, holders, false},
		{"the user's name as a group", shcrv1alpha1.Approval{RecordedBy: "x", RecordedGroups: []string{"reid"}}, holders, false},
		{"the group's name as a user", shcrv1alpha1.Approval{RecordedBy: "gp-partners"}, holders, false},
		{"no member holds the code", shcrv1alpha1.Approval{RecordedBy: "reid"}, nil, false},
		{"a second holder without the signatory", shcrv1alpha1.Approval{RecordedBy: "reid"},
			map[string][]shcrv1alpha1.MemberOrganisation{"K84001": {member("K84001", user), member("K84001")}}, false},
	}
	for _, tc := range cases {
		missing, unsigned := CountApprovals(spec(tc.approval), tc.holders, true)
		if counted := len(missing) == 0; counted != tc.counts {
			t.Errorf("%s: counted=%v, want %v", tc.name, counted, tc.counts)
		}
		if !tc.counts && tc.approval.RecordedBy != "" && !slices.Equal(unsigned, []string{"K84001"}) {
			t.Errorf("%s: unsigned %v, want the organisation named", tc.name, unsigned)
		}
	}
}

func TestLedgerKeysAndEntriesRoundTrip(t *testing.T) {
	for _, id := range []string{"TVS-DSA-001", "a.v2.b", "X", "dsa.v"} {
		for _, v := range []int32{1, 12, 10000} {
			gotID, gotV, ok := ParseLedgerKey(LedgerKey(id, v))
			if !ok || gotID != id || gotV != v {
				t.Errorf("%s v%d: parsed %q v%d ok=%v", id, v, gotID, gotV, ok)
			}
		}
	}
	for _, bad := range []string{"", ".v1", "X.v0", "X.v", "X.vx", "X"} {
		if _, _, ok := ParseLedgerKey(bad); ok {
			t.Errorf("%q parsed as a ledger key", bad)
		}
	}
	e := LedgerEntry{TermsHash: "sha256:ab", RecordedAt: time.Date(2026, 4, 1, 9, 0, 0, 5, time.FixedZone("x", 3600)), Object: "v1"}
	got, err := DecodeLedgerEntry(EncodeLedgerEntry(e))
	if err != nil || got.TermsHash != e.TermsHash || !got.RecordedAt.Equal(e.RecordedAt.Truncate(time.Second)) {
		t.Errorf("round trip: %+v %v", got, err)
	}
	for _, bad := range []string{"", "{}", `{"termsHash":""}`, "not json"} {
		if _, err := DecodeLedgerEntry(bad); err == nil {
			t.Errorf("%q decoded as a ledger entry", bad)
		}
	}
}
