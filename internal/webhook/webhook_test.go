/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package webhook

import (
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
	StampApprovals(approvals, old, "bob")
	if approvals[0].RecordedBy != "alice" {
		t.Errorf("an existing approval keeps who recorded it, got %q", approvals[0].RecordedBy)
	}
	if approvals[1].RecordedBy != "bob" {
		t.Errorf("a new approval is recorded as the requester, got %q", approvals[1].RecordedBy)
	}
}

func TestWithinAgreement(t *testing.T) {
	agreement := &shcrv1alpha1.DataSharingAgreement{Spec: shcrv1alpha1.DataSharingAgreementSpec{
		AgreementID: "A", Version: 2,
		Terms: shcrv1alpha1.AgreementTerms{
			Parties:        []shcrv1alpha1.Party{{ODSCode: "RTH"}, {ODSCode: "K84001"}},
			DataCategories: []shcrv1alpha1.DataCategory{"Medications", "Allergies"},
		},
	}}
	policy := func(orgs []string, cats ...shcrv1alpha1.DataCategory) *shcrv1alpha1.AccessPolicy {
		return &shcrv1alpha1.AccessPolicy{Spec: shcrv1alpha1.AccessPolicySpec{
			Subjects: shcrv1alpha1.Subjects{Organisations: orgs, Roles: []string{"R8000"}},
			Grants:   []shcrv1alpha1.Grant{{Categories: cats}},
		}}
	}
	if errs := WithinAgreement(policy([]string{"RTH"}, "Medications"), agreement); len(errs) != 0 {
		t.Errorf("a policy within the agreement was refused: %v", errs)
	}
	errs := WithinAgreement(policy([]string{"RTH", "ZZ1"}, "Medications", "TestResults"), agreement)
	if len(errs) != 2 || errs[0].Field != "spec.grants[0].categories[1]" || errs[1].Field != "spec.subjects.organisations[1]" {
		t.Errorf("want the out-of-scope category and the non-party named, got %v", errs)
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
