/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package accesspolicy

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
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
	for _, tc := range cases {
		ap := &shcrv1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Spec: shcrv1alpha1.AccessPolicySpec{
			AgreementID: "A", Subjects: shcrv1alpha1.Subjects{Organisations: tc.orgs, Roles: []string{"R8000"}},
		}}
		for _, g := range tc.grants {
			ap.Spec.Grants = append(ap.Spec.Grants, shcrv1alpha1.Grant{Categories: g})
		}
		report(ap, active)
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
func TestClearGrantsEmptiesTheGrants(t *testing.T) {
	ap := &shcrv1alpha1.AccessPolicy{}
	ap.Status.AgreementVersion = 2
	ap.Status.EffectiveGrants = []shcrv1alpha1.EffectiveGrant{{Categories: []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}}}
	ap.Status.DroppedCategories = []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryAllergies}
	clearGrants(ap)
	if ap.Status.AgreementVersion != 0 || ap.Status.EffectiveGrants != nil || ap.Status.DroppedCategories != nil {
		t.Errorf("clearGrants left %+v", ap.Status)
	}
}

// Every setter of a policy that grants nothing (outside a region, no
// agreement, a governing version not Active) leaves no grants from before,
// whatever the policy granted last, and says why on the condition it owns.
func TestSettersOfAPolicyThatGrantsNothing(t *testing.T) {
	draft := &shcrv1alpha1.DataSharingAgreement{Spec: shcrv1alpha1.DataSharingAgreementSpec{
		AgreementID: "A", Version: 2,
		Terms: shcrv1alpha1.AgreementTerms{
			Parties:        []shcrv1alpha1.Party{{ODSCode: "RTH", Role: shcrv1alpha1.PartyController}},
			DataCategories: []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications},
		},
	}}
	draft.Status.Phase = shcrv1alpha1.PhaseDraft
	cases := []struct {
		name          string
		mark          func(*shcrv1alpha1.AccessPolicy)
		conditionType string
		reason        string
		names         []string // what the condition's message names
		narrowed      metav1.ConditionStatus
		narrowedWhy   string
	}{
		{"outside a region", markNotInRegion, shcrv1alpha1.ConditionReady, shcrv1alpha1.ReasonNotInRegion,
			[]string{"namespace team-a", "shcr-<region>"}, metav1.ConditionFalse, shcrv1alpha1.ReasonNotInRegion},
		{"no agreement", markNoAgreement, shcrv1alpha1.ConditionInForce, shcrv1alpha1.ReasonAgreementNotFound,
			[]string{"spec.agreementId", "agreementId A", "grants nothing"}, metav1.ConditionFalse, shcrv1alpha1.ReasonAgreementNotFound},
		{"a draft governs", func(ap *shcrv1alpha1.AccessPolicy) { markNotActive(ap, draft, 3) }, shcrv1alpha1.ConditionInForce,
			shcrv1alpha1.ReasonAgreementNotActive, []string{"agreement A", "3 version(s)", "grants nothing"},
			metav1.ConditionFalse, shcrv1alpha1.ReasonWithinScope},
		{"a draft governs a policy naming more", func(ap *shcrv1alpha1.AccessPolicy) {
			ap.Spec.Grants = append(ap.Spec.Grants, shcrv1alpha1.Grant{Categories: []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryCarePlans}})
			markNotActive(ap, draft, 1)
		}, shcrv1alpha1.ConditionInForce, shcrv1alpha1.ReasonAgreementNotActive, []string{"1 version(s)"},
			metav1.ConditionTrue, shcrv1alpha1.ReasonNarrowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ap := &shcrv1alpha1.AccessPolicy{
				ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Generation: 4},
				Spec: shcrv1alpha1.AccessPolicySpec{AgreementID: "A", Subjects: shcrv1alpha1.Subjects{Roles: []string{"R8000"}},
					Grants: []shcrv1alpha1.Grant{{Categories: []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}}}},
			}
			ap.Status.AgreementVersion = 1
			ap.Status.EffectiveGrants = []shcrv1alpha1.EffectiveGrant{{Categories: []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}}}
			ap.Status.DroppedCategories = []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryAllergies}
			tc.mark(ap)
			if ap.Status.AgreementVersion != 0 || ap.Status.EffectiveGrants != nil || ap.Status.DroppedCategories != nil {
				t.Errorf("grants kept from before: %+v", ap.Status)
			}
			c := meta.FindStatusCondition(ap.Status.Conditions, tc.conditionType)
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != tc.reason || c.ObservedGeneration != 4 {
				t.Fatalf("%s: %+v, want False %s at generation 4", tc.conditionType, c, tc.reason)
			}
			for _, n := range tc.names {
				if !strings.Contains(c.Message, n) {
					t.Errorf("%s %q does not name %q", tc.conditionType, c.Message, n)
				}
			}
			narrowed := meta.FindStatusCondition(ap.Status.Conditions, shcrv1alpha1.ConditionScopeNarrowed)
			if narrowed == nil || narrowed.Status != tc.narrowed || narrowed.Reason != tc.narrowedWhy {
				t.Errorf("ScopeNarrowed %+v, want %s %s", narrowed, tc.narrowed, tc.narrowedWhy)
			}
		})
	}
}

// Warnings is True with every warning when the policy says what it will not
// do, and False with none otherwise; a policy with no governing version is
// still judged.
func TestWarn(t *testing.T) {
	active := &shcrv1alpha1.DataSharingAgreement{Spec: shcrv1alpha1.DataSharingAgreementSpec{
		AgreementID: "A", Version: 1,
		Terms: shcrv1alpha1.AgreementTerms{DataCategories: []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}},
	}}
	policies := map[string]shcrv1alpha1.AccessPolicySpec{
		"plain": {AgreementID: "A", Subjects: shcrv1alpha1.Subjects{Roles: []string{"R8000"}},
			Grants: []shcrv1alpha1.Grant{{Categories: []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}}}},
		"a break-glass role no subject holds": {AgreementID: "A", Subjects: shcrv1alpha1.Subjects{Roles: []string{"R8000"}},
			BreakGlass: &shcrv1alpha1.BreakGlass{AllowedRoles: []string{"R8000", "R9999"}}},
		"ETREAT without break-glass": {AgreementID: "A", Subjects: shcrv1alpha1.Subjects{Roles: []string{"R8000"}},
			PurposesOfUse: []shcrv1alpha1.PurposeOfUse{shcrv1alpha1.PurposeEmergencyTreat}},
		"more sensitive data than agreed": {AgreementID: "A", Subjects: shcrv1alpha1.Subjects{Roles: []string{"R8000"}},
			SensitiveData: shcrv1alpha1.SensitiveAllow},
	}
	warned := 0
	for name, spec := range policies {
		for _, governing := range []*shcrv1alpha1.DataSharingAgreement{nil, active} {
			ap := &shcrv1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Spec: spec}
			want := governance.PolicyWarnings(ap, governing)
			warn(ap, governing)
			warned += len(want)
			c := meta.FindStatusCondition(ap.Status.Conditions, shcrv1alpha1.ConditionWarnings)
			switch {
			case c == nil:
				t.Fatalf("%s: no Warnings condition", name)
			case len(want) == 0 && (c.Status != metav1.ConditionFalse || c.Reason != shcrv1alpha1.ReasonNoWarnings || c.Message != ""):
				t.Errorf("%s (governing %v): %+v, want False NoWarnings", name, governing != nil, c)
			case len(want) > 0 && (c.Status != metav1.ConditionTrue || c.Reason != shcrv1alpha1.ReasonPolicyWarnings ||
				c.Message != strings.Join(want, "; ")):
				t.Errorf("%s (governing %v): %+v, want True with %q", name, governing != nil, c, want)
			}
		}
	}
	if warned < 4 {
		t.Errorf("only %d warnings over the table: it no longer covers Warnings=True", warned)
	}
}

// Ready follows InForce: True only when the policy is in force and the
// reconcile succeeded; a policy waiting for its agreement is not Stalled,
// one outside a region is.
func TestSummarise(t *testing.T) {
	cases := []struct {
		name             string
		inForce          metav1.ConditionStatus
		reason           string
		mark             func(*shcrv1alpha1.AccessPolicy)
		err              error
		ready, stalled   metav1.ConditionStatus
		observed         bool
		readyMentionsVer bool
	}{
		{"in force", metav1.ConditionTrue, shcrv1alpha1.ReasonInForce, nil, nil, metav1.ConditionTrue, metav1.ConditionFalse, true, true},
		{"waiting for the agreement", metav1.ConditionFalse, shcrv1alpha1.ReasonAgreementNotActive, nil, nil,
			metav1.ConditionFalse, metav1.ConditionFalse, true, false},
		{"nothing granted", metav1.ConditionFalse, shcrv1alpha1.ReasonNothingGranted, nil, nil,
			metav1.ConditionFalse, metav1.ConditionFalse, true, false},
		{"a read failed", metav1.ConditionTrue, shcrv1alpha1.ReasonInForce, nil, errors.New("cache not synced"),
			metav1.ConditionFalse, metav1.ConditionFalse, false, false},
		{"outside a region", "", "", markNotInRegion, reconcile.TerminalError(errors.New("not a region namespace")),
			metav1.ConditionFalse, metav1.ConditionTrue, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ap := &shcrv1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "shcr-r", Generation: 5},
				Spec: shcrv1alpha1.AccessPolicySpec{AgreementID: "A"}}
			ap.Status.AgreementVersion = 3
			if tc.inForce != "" {
				setCondition(ap, shcrv1alpha1.ConditionInForce, tc.inForce, tc.reason, "why")
			}
			if tc.mark != nil {
				tc.mark(ap)
			}
			summarise(ap, tc.err)
			ready := meta.FindStatusCondition(ap.Status.Conditions, shcrv1alpha1.ConditionReady)
			stalled := meta.FindStatusCondition(ap.Status.Conditions, shcrv1alpha1.ConditionStalled)
			if ready.Status != tc.ready || stalled.Status != tc.stalled {
				t.Errorf("Ready %s Stalled %s, want %s %s (%s)", ready.Status, stalled.Status, tc.ready, tc.stalled, ready.Message)
			}
			if (ap.Status.ObservedGeneration == 5) != tc.observed {
				t.Errorf("observedGeneration %d, observed %v", ap.Status.ObservedGeneration, tc.observed)
			}
			if tc.readyMentionsVer && !strings.Contains(ready.Message, "A v3") {
				t.Errorf("Ready %q does not name the version in force", ready.Message)
			}
		})
	}
}
