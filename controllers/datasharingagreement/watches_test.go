/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// An agreement is reconciled again for every change of a member it reads
// (governance.PolicyMember, signatories, deletion), and not for the status
// a member derives from its agreements.
func TestPartyFactsChanged(t *testing.T) {
	base := &shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Name: "gp", Namespace: "shcr-r", Generation: 2},
		Spec: shcrv1alpha1.MemberOrganisationSpec{ODSCode: "A81001"}}
	meta.SetStatusCondition(&base.Status.Conditions, metav1.Condition{Type: shcrv1alpha1.ConditionAdmitted, Status: metav1.ConditionTrue,
		Reason: shcrv1alpha1.ReasonAdmitted, ObservedGeneration: 2})
	now := metav1.Now()
	cases := []struct {
		name   string
		change func(m *shcrv1alpha1.MemberOrganisation)
		want   bool
	}{
		{"its spec (a new generation)", func(m *shcrv1alpha1.MemberOrganisation) { m.Generation = 3 }, true},
		{"deleted", func(m *shcrv1alpha1.MemberOrganisation) { m.DeletionTimestamp = &now }, true},
		{"admission refused", func(m *shcrv1alpha1.MemberOrganisation) {
			meta.SetStatusCondition(&m.Status.Conditions, metav1.Condition{Type: shcrv1alpha1.ConditionAdmitted, Status: metav1.ConditionFalse,
				Reason: "DSPTExpired", ObservedGeneration: 2})
		}, true},
		{"admission decided for another generation", func(m *shcrv1alpha1.MemberOrganisation) {
			meta.SetStatusCondition(&m.Status.Conditions, metav1.Condition{Type: shcrv1alpha1.ConditionAdmitted, Status: metav1.ConditionTrue,
				Reason: shcrv1alpha1.ReasonAdmitted, ObservedGeneration: 1})
		}, true},
		{"admission gone", func(m *shcrv1alpha1.MemberOrganisation) { m.Status.Conditions = nil }, true},
		{"the categories it provides", func(m *shcrv1alpha1.MemberOrganisation) {
			m.Status.ProvidesCategories = []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}
		}, false},
		{"its connector rolling out", func(m *shcrv1alpha1.MemberOrganisation) {
			meta.SetStatusCondition(&m.Status.Conditions, metav1.Condition{Type: shcrv1alpha1.ConditionConnectorAvailable, Status: metav1.ConditionFalse,
				Reason: shcrv1alpha1.ReasonRollingOut, ObservedGeneration: 2})
			meta.SetStatusCondition(&m.Status.Conditions, metav1.Condition{Type: shcrv1alpha1.ConditionReady, Status: metav1.ConditionFalse,
				Reason: shcrv1alpha1.ReasonRollingOut, ObservedGeneration: 2})
		}, false},
		{"the admission message only", func(m *shcrv1alpha1.MemberOrganisation) {
			meta.SetStatusCondition(&m.Status.Conditions, metav1.Condition{Type: shcrv1alpha1.ConditionAdmitted, Status: metav1.ConditionTrue,
				Reason: shcrv1alpha1.ReasonAdmitted, Message: "again", ObservedGeneration: 2})
		}, false},
	}
	p := partyFactsChanged()
	for _, tc := range cases {
		cur := base.DeepCopy()
		tc.change(cur)
		if got := p.Update(event.UpdateEvent{ObjectOld: base, ObjectNew: cur}); got != tc.want {
			t.Errorf("%s: reconciles its agreements = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !p.Create(event.CreateEvent{Object: base}) || !p.Delete(event.DeleteEvent{Object: base}) {
		t.Error("a member created or deleted must reconcile its agreements")
	}
}
