/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package governance

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// The table tests of the rules the webhook and the reconcilers share; the
// integration suite runs the same tables through both callers
// (test/integration/rules_test.go).

func holder(ns, name string, created time.Time, deleting bool) shcrv1alpha1.MemberOrganisation {
	m := shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(created)},
		Spec: shcrv1alpha1.MemberOrganisationSpec{ODSCode: "RTH"}}
	if deleting {
		m.DeletionTimestamp = &metav1.Time{Time: created.Add(time.Hour)}
	}
	return m
}

func TestUniqueODSCode(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	candidate := holder("shcr-a", "new", t0.Add(time.Minute), false)
	unstamped := holder("shcr-a", "new", time.Time{}, false)
	cases := []struct {
		name   string
		m      shcrv1alpha1.MemberOrganisation
		others []shcrv1alpha1.MemberOrganisation
		want   string // "" when admitted, else a part of the refusal
	}{
		{"no one else holds the code", candidate, nil, ""},
		{"only itself (an update)", candidate, []shcrv1alpha1.MemberOrganisation{candidate}, ""},
		{"an older holder in the region", candidate, []shcrv1alpha1.MemberOrganisation{holder("shcr-a", "gp", t0, false)},
			"of this region, as MemberOrganisation gp"},
		{"an older holder in another region", candidate, []shcrv1alpha1.MemberOrganisation{holder("shcr-b", "gp", t0, false)},
			"in another region: ODS codes are unique"},
		{"an older holder being deleted", candidate, []shcrv1alpha1.MemberOrganisation{holder("shcr-a", "gp", t0, true)}, ""},
		{"a younger copy (the holder's update)", candidate, []shcrv1alpha1.MemberOrganisation{holder("shcr-b", "copy", t0.Add(time.Hour), false)}, ""},
		{"created the same second, named before it", candidate,
			[]shcrv1alpha1.MemberOrganisation{holder("shcr-a", "gp", t0.Add(time.Minute), false)}, "as MemberOrganisation gp"},
		{"created the same second, named after it", candidate,
			[]shcrv1alpha1.MemberOrganisation{holder("shcr-a", "z", t0.Add(time.Minute), false)}, ""},
		{"no timestamp yet: newer than any holder", unstamped, []shcrv1alpha1.MemberOrganisation{holder("shcr-b", "copy", t0.Add(time.Hour), false)},
			"in another region"},
		{"one deleting and one live older holder", candidate,
			[]shcrv1alpha1.MemberOrganisation{holder("shcr-a", "old", t0.Add(-time.Hour), true), holder("shcr-a", "gp", t0, false)},
			"as MemberOrganisation gp"},
		{"itself being deleted (its finalizers removed)", holder("shcr-a", "new", t0, true),
			[]shcrv1alpha1.MemberOrganisation{holder("shcr-a", "gp", t0.Add(-time.Hour), false)}, ""},
	}
	for _, tc := range cases {
		errs := UniqueODSCode(&tc.m, tc.others)
		switch {
		case tc.want == "" && len(errs) > 0:
			t.Errorf("%s: refused: %v", tc.name, errs)
		case tc.want != "" && (len(errs) != 1 || errs[0].Field != "spec.odsCode" || !strings.Contains(errs.ToAggregate().Error(), tc.want)):
			t.Errorf("%s: %v, want spec.odsCode refused with %q", tc.name, errs, tc.want)
		}
	}
}

func version(v int32, phase shcrv1alpha1.AgreementPhase) shcrv1alpha1.DataSharingAgreement {
	a := shcrv1alpha1.DataSharingAgreement{Spec: shcrv1alpha1.DataSharingAgreementSpec{AgreementID: "A", Version: v}}
	a.Status.Phase = phase
	return a
}

func TestGoverningVersion(t *testing.T) {
	cases := []struct {
		name     string
		versions []shcrv1alpha1.DataSharingAgreement
		want     int32 // 0: none
	}{
		{"no version", nil, 0},
		{"one draft", []shcrv1alpha1.DataSharingAgreement{version(1, shcrv1alpha1.PhaseDraft)}, 1},
		{"Active below a higher draft", []shcrv1alpha1.DataSharingAgreement{version(2, shcrv1alpha1.PhaseDraft), version(1, shcrv1alpha1.PhaseActive)}, 1},
		{"Active above a superseded one", []shcrv1alpha1.DataSharingAgreement{version(1, shcrv1alpha1.PhaseSuperseded), version(2, shcrv1alpha1.PhaseActive)}, 2},
		{"none Active: the highest", []shcrv1alpha1.DataSharingAgreement{version(3, shcrv1alpha1.PhaseExpired), version(1, shcrv1alpha1.PhaseDraft),
			version(2, shcrv1alpha1.PhasePending)}, 3},
		{"no phase yet", []shcrv1alpha1.DataSharingAgreement{version(4, ""), version(5, "")}, 5},
	}
	for _, tc := range cases {
		got := GoverningVersion(tc.versions)
		switch {
		case tc.want == 0 && got != nil:
			t.Errorf("%s: got v%d, want none", tc.name, got.Spec.Version)
		case tc.want != 0 && (got == nil || got.Spec.Version != tc.want):
			t.Errorf("%s: got %v, want v%d", tc.name, got, tc.want)
		}
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
	policy := func(orgs []string, grants ...[]shcrv1alpha1.DataCategory) *shcrv1alpha1.AccessPolicy {
		p := &shcrv1alpha1.AccessPolicy{Spec: shcrv1alpha1.AccessPolicySpec{
			Subjects: shcrv1alpha1.Subjects{Organisations: orgs, Roles: []string{"R8000"}},
		}}
		for _, g := range grants {
			p.Spec.Grants = append(p.Spec.Grants, shcrv1alpha1.Grant{Categories: g})
		}
		return p
	}
	cats := func(c ...shcrv1alpha1.DataCategory) []shcrv1alpha1.DataCategory { return c }
	cases := []struct {
		name   string
		p      *shcrv1alpha1.AccessPolicy
		fields []string
	}{
		{"within", policy([]string{"RTH"}, cats("Medications")), nil},
		{"every party, every category", policy([]string{"RTH", "K84001"}, cats("Medications", "Allergies")), nil},
		{"no organisations named (every party)", policy(nil, cats("Allergies")), nil},
		{"a category outside", policy(nil, cats("Medications", "TestResults")), []string{"spec.grants[0].categories[1]"}},
		{"outside in a second grant", policy(nil, cats("Medications"), cats("CarePlans")), []string{"spec.grants[1].categories[0]"}},
		{"a non-party", policy([]string{"RTH", "ZZ1"}, cats("Medications")), []string{"spec.subjects.organisations[1]"}},
		{"a party's code in another case", policy([]string{"rth"}, cats("Medications")), []string{"spec.subjects.organisations[0]"}},
		{"both", policy([]string{"ZZ1"}, cats("TestResults")), []string{"spec.grants[0].categories[0]", "spec.subjects.organisations[0]"}},
	}
	for _, tc := range cases {
		errs := WithinAgreement(tc.p, agreement)
		var got []string
		for _, e := range errs {
			got = append(got, e.Field)
		}
		if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
			t.Errorf("%s: refused %v, want %v", tc.name, got, tc.fields)
		}
		for _, e := range errs {
			if !strings.Contains(e.Detail, "agreement A v2") {
				t.Errorf("%s: %s does not name the agreement version", tc.name, e.Detail)
			}
		}
	}
}
