/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package accesspolicy

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// What a policy's status says under an Active agreement version: the
// effective grants are the intersection, and ScopeNarrowed names exactly
// what the webhook would have refused (governance.WithinAgreement).
func TestReportUnderTheActiveVersion(t *testing.T) {
	active := &shcrv1alpha1.DataSharingAgreement{Spec: shcrv1alpha1.DataSharingAgreementSpec{
		AgreementID: "A", Version: 3,
		Terms: shcrv1alpha1.AgreementTerms{
			Parties:        []shcrv1alpha1.Party{{ODSCode: "RTH", Role: shcrv1alpha1.PartyController}, {ODSCode: "K84001", Role: shcrv1alpha1.PartyController}},
			DataCategories: []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications, shcrv1alpha1.CategoryAllergies},
		},
	}}
	active.Status.Phase = shcrv1alpha1.PhaseActive
	cases := []struct {
		name      string
		orgs      []string
		grants    [][]shcrv1alpha1.DataCategory
		inForce   metav1.ConditionStatus
		narrowed  metav1.ConditionStatus
		names     []string // what ScopeNarrowed's message names
		effective []shcrv1alpha1.DataCategory
		dropped   []shcrv1alpha1.DataCategory
	}{
		{"within", []string{"RTH"}, [][]shcrv1alpha1.DataCategory{{shcrv1alpha1.CategoryMedications}},
			metav1.ConditionTrue, metav1.ConditionFalse, nil, []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}, nil},
		{"a category outside", nil, [][]shcrv1alpha1.DataCategory{{shcrv1alpha1.CategoryMedications, shcrv1alpha1.CategoryTestResults}},
			metav1.ConditionTrue, metav1.ConditionTrue, []string{"spec.grants[0].categories[1]", "TestResults"},
			[]shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}, []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryTestResults}},
		{"every category outside", nil, [][]shcrv1alpha1.DataCategory{{shcrv1alpha1.CategoryTestResults}, {shcrv1alpha1.CategoryCarePlans}},
			metav1.ConditionFalse, metav1.ConditionTrue, []string{"spec.grants[0].categories[0]", "spec.grants[1].categories[0]"},
			nil, []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryTestResults, shcrv1alpha1.CategoryCarePlans}},
		{"a non-party", []string{"RTH", "ZZ9"}, [][]shcrv1alpha1.DataCategory{{shcrv1alpha1.CategoryAllergies}},
			metav1.ConditionTrue, metav1.ConditionTrue, []string{"spec.subjects.organisations[1]", "ZZ9"},
			[]shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryAllergies}, nil},
	}
	r := &Reconciler{}
	for _, tc := range cases {
		ap := &shcrv1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Spec: shcrv1alpha1.AccessPolicySpec{
			AgreementID: "A", Subjects: shcrv1alpha1.Subjects{Organisations: tc.orgs, Roles: []string{"R8000"}},
		}}
		for _, g := range tc.grants {
			ap.Spec.Grants = append(ap.Spec.Grants, shcrv1alpha1.Grant{Categories: g})
		}
		r.report(ap, active)
		inForce := meta.FindStatusCondition(ap.Status.Conditions, shcrv1alpha1.ConditionInForce)
		narrowed := meta.FindStatusCondition(ap.Status.Conditions, shcrv1alpha1.ConditionScopeNarrowed)
		if inForce.Status != tc.inForce || narrowed.Status != tc.narrowed || inForce.ObservedGeneration != 2 {
			t.Errorf("%s: InForce %s, ScopeNarrowed %s, want %s, %s", tc.name, inForce.Status, narrowed.Status, tc.inForce, tc.narrowed)
		}
		for _, n := range tc.names {
			if !strings.Contains(narrowed.Message, n) {
				t.Errorf("%s: ScopeNarrowed %q does not name %s", tc.name, narrowed.Message, n)
			}
		}
		var effective []shcrv1alpha1.DataCategory
		for _, g := range ap.Status.EffectiveGrants {
			effective = append(effective, g.Categories...)
		}
		if !slices.Equal(effective, tc.effective) || !slices.Equal(ap.Status.DroppedCategories, tc.dropped) || ap.Status.AgreementVersion != 3 {
			t.Errorf("%s: effective %v dropped %v v%d, want %v %v v3", tc.name, effective, ap.Status.DroppedCategories,
				ap.Status.AgreementVersion, tc.effective, tc.dropped)
		}
	}
}

// A policy that grants nothing keeps no grants from before.
func TestClearEmptiesTheGrants(t *testing.T) {
	ap := &shcrv1alpha1.AccessPolicy{}
	ap.Status.AgreementVersion = 2
	ap.Status.EffectiveGrants = []shcrv1alpha1.EffectiveGrant{{Categories: []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}}}
	ap.Status.DroppedCategories = []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryAllergies}
	(&Reconciler{}).clear(ap)
	if ap.Status.AgreementVersion != 0 || ap.Status.EffectiveGrants != nil || ap.Status.DroppedCategories != nil {
		t.Errorf("clear left %+v", ap.Status)
	}
}
