/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package webhook

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

func TestStampApprovalsTrustsOnlyTheRequester(t *testing.T) {
	date := metav1.NewTime(time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC))
	old := []shcrv1alpha1.Approval{{Organisation: "RTH", Signatory: "Dr Okafor", Role: "CaldicottGuardian", Date: date, RecordedBy: "alice"}}
	approvals := []shcrv1alpha1.Approval{
		{Organisation: "RTH", Signatory: "Dr Okafor", Role: "CaldicottGuardian", Date: date, RecordedBy: "mallory"},
		{Organisation: "K84001", Signatory: "Dr Reid", Role: "CaldicottGuardian", Date: date, RecordedBy: "someone-important"},
	}
	approvals[1].RecordedGroups = []string{"rth-signatories"}
	StampApprovals(approvals, old, "bob", []string{"tvs-shcr-admins", "system:authenticated"})
	if approvals[0].RecordedBy != "alice" || len(approvals[0].RecordedGroups) != 0 {
		t.Errorf("an existing approval keeps who recorded it, got %q %v", approvals[0].RecordedBy, approvals[0].RecordedGroups)
	}
	if approvals[1].RecordedBy != "bob" || !slices.Equal(approvals[1].RecordedGroups, []string{"tvs-shcr-admins", "system:authenticated"}) {
		t.Errorf("a new approval is recorded as the requester with its groups, got %q %v", approvals[1].RecordedBy, approvals[1].RecordedGroups)
	}
}

// Every way of approving for an organisation without being its signatory
// is refused; approvals already present are never re-checked.
func TestApprovalsBySignatories(t *testing.T) {
	date := metav1.NewTime(time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC))
	member := func(ns, ods string, signatories ...shcrv1alpha1.Signatory) shcrv1alpha1.MemberOrganisation {
		return shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ods},
			Spec: shcrv1alpha1.MemberOrganisationSpec{ODSCode: ods, Signatories: signatories}}
	}
	user := func(n string) shcrv1alpha1.Signatory { return shcrv1alpha1.Signatory{Kind: "User", Name: n} }
	group := func(n string) shcrv1alpha1.Signatory { return shcrv1alpha1.Signatory{Kind: "Group", Name: n} }
	members := []shcrv1alpha1.MemberOrganisation{
		member("r", "RTH", user("okafor"), group("rth-signers")),
		member("r", "K84001", user("reid")),
		member("r", "OXCC1"),
	}
	approval := func(ods string) shcrv1alpha1.Approval {
		return shcrv1alpha1.Approval{Organisation: ods, Signatory: "S", Role: "CaldicottGuardian", Date: date}
	}
	cases := []struct {
		name    string
		members []shcrv1alpha1.MemberOrganisation
		ods     string
		user    string
		groups  []string
		ok      bool
	}{
		{"a User signatory", members, "RTH", "okafor", nil, true},
		{"a Group signatory", members, "RTH", "someone", []string{"rth-signers"}, true},
		{"a signatory of another organisation", members, "RTH", "reid", nil, false},
		{"a user named like a Group signatory", members, "RTH", "rth-signers", nil, false},
		{"a group named like a User signatory", members, "RTH", "x", []string{"okafor"}, false},
		{"case differs", members, "RTH", "Okafor", nil, false},
		{"a member with no signatories", members, "OXCC1", "okafor", []string{"rth-signers"}, false},
		{"an ODS code with no member", members, "ZZ999", "okafor", []string{"rth-signers"}, false},
		{"a duplicate holder without the signatory", append(slices.Clone(members), member("r", "RTH", user("mallory"))), "RTH", "okafor", nil, false},
		{"the empty user", members, "RTH", "", nil, false},
	}
	for _, tc := range cases {
		a := &shcrv1alpha1.DataSharingAgreement{Spec: shcrv1alpha1.DataSharingAgreementSpec{Approvals: []shcrv1alpha1.Approval{approval(tc.ods)}}}
		errs := ApprovalsBySignatories(a, nil, tc.members, tc.user, tc.groups)
		if (len(errs) == 0) != tc.ok {
			t.Errorf("%s: admitted=%v, want %v (%v)", tc.name, len(errs) == 0, tc.ok, errs)
		}
		if len(errs) > 0 && errs[0].Field != "spec.approvals[0].organisation" {
			t.Errorf("%s: the error names %s, want spec.approvals[0].organisation", tc.name, errs[0].Field)
		}
		// An approval already there (added by its signatory earlier) is not re-checked.
		if errs := ApprovalsBySignatories(a, a.Spec.Approvals, tc.members, tc.user, tc.groups); len(errs) != 0 {
			t.Errorf("%s: an existing approval was re-checked: %v", tc.name, errs)
		}
	}
}

func TestPartiesAreMembers(t *testing.T) {
	members := []shcrv1alpha1.MemberOrganisation{{Spec: shcrv1alpha1.MemberOrganisationSpec{ODSCode: "RTH"}}}
	peerMembers := []shcrv1alpha1.MemberOrganisation{{Spec: shcrv1alpha1.MemberOrganisationSpec{ODSCode: "RYJ"}}}
	a := &shcrv1alpha1.DataSharingAgreement{Spec: shcrv1alpha1.DataSharingAgreementSpec{Terms: shcrv1alpha1.AgreementTerms{
		Parties: []shcrv1alpha1.Party{{ODSCode: "RTH"}, {ODSCode: "RYJ"}},
	}}}
	if errs := PartiesAreMembers(a, members, nil, nil); len(errs) != 1 || errs[0].Field != "spec.terms.parties[1].odsCode" {
		t.Errorf("a party from another region needs a cross-region agreement, got %v", errs)
	}
	a.Spec.Terms.Journey, a.Spec.Terms.PeerRegion = shcrv1alpha1.JourneyCrossRegion, "london"
	if errs := PartiesAreMembers(a, members, peerMembers, &shcrv1alpha1.ShCRRegion{}); len(errs) != 0 {
		t.Errorf("a cross-region agreement may name the peer's members, got %v", errs)
	}
	if errs := PartiesAreMembers(a, members, peerMembers, nil); len(errs) != 1 || errs[0].Field != "spec.terms.peerRegion" {
		t.Errorf("a peer region that does not exist must be named, got %v", errs)
	}
}

// The agreement webhook reads only the members holding a code the
// agreement names (codesNamed, through the cache's index). Over random
// regions, agreements and requesters, its decisions on that subset are
// the decisions on every member of the region: the members it leaves out
// can change nothing.
func TestMembersOfTheNamedCodesDecideAsTheWholeRegion(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	codes := []string{"A1", "A2", "B1", "B2", "C1", "C2", "D1"}
	users := []string{"u0", "u1", "u2", "u3"}
	pick := func(from []string) string { return from[rng.IntN(len(from))] }
	for i := range 2000 {
		var members []shcrv1alpha1.MemberOrganisation
		for j := range rng.IntN(10) {
			m := shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Namespace: "r", Name: fmt.Sprint("m", j)},
				Spec: shcrv1alpha1.MemberOrganisationSpec{ODSCode: pick(codes)}}
			for range rng.IntN(3) {
				m.Spec.Signatories = append(m.Spec.Signatories, shcrv1alpha1.Signatory{Kind: "User", Name: pick(users)})
			}
			members = append(members, m)
		}
		a := &shcrv1alpha1.DataSharingAgreement{}
		for range 1 + rng.IntN(4) {
			a.Spec.Terms.Parties = append(a.Spec.Terms.Parties, shcrv1alpha1.Party{ODSCode: pick(codes)})
		}
		for range rng.IntN(4) {
			a.Spec.Approvals = append(a.Spec.Approvals, shcrv1alpha1.Approval{Organisation: pick(codes), Signatory: pick(users)})
		}
		named := codesNamed(a)
		subset := slices.DeleteFunc(slices.Clone(members), func(m shcrv1alpha1.MemberOrganisation) bool {
			return !slices.Contains(named, m.Spec.ODSCode)
		})
		user := pick(users)
		whole := append(PartiesAreMembers(a, members, nil, nil), ApprovalsBySignatories(a, nil, members, user, nil)...)
		part := append(PartiesAreMembers(a, subset, nil, nil), ApprovalsBySignatories(a, nil, subset, user, nil)...)
		if whole.ToAggregate() == nil != (part.ToAggregate() == nil) ||
			(whole.ToAggregate() != nil && whole.ToAggregate().Error() != part.ToAggregate().Error()) {
			t.Fatalf("case %d: the whole region decides %v, the named codes' members %v", i, whole, part)
		}
	}
}
