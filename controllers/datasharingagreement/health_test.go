/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/conditions"
)

// Every phase reads in kstatus as docs/agreements.md says, from conditions
// as a successful reconcile leaves them; a failed reconcile keeps its own.
func TestPhaseHealthForKstatus(t *testing.T) {
	want := map[shcrv1alpha1.AgreementPhase]status.Status{
		shcrv1alpha1.PhaseDraft:      status.InProgressStatus,
		shcrv1alpha1.PhasePending:    status.InProgressStatus,
		shcrv1alpha1.PhaseActive:     status.CurrentStatus,
		shcrv1alpha1.PhaseExpired:    status.FailedStatus,
		shcrv1alpha1.PhaseInvalid:    status.FailedStatus,
		shcrv1alpha1.PhaseSuperseded: status.CurrentStatus,
		shcrv1alpha1.PhaseSuspended:  status.CurrentStatus,
	}
	for phase, kstatus := range want {
		for _, ready := range []bool{true, false} {
			a := &shcrv1alpha1.DataSharingAgreement{}
			a.APIVersion, a.Kind = shcrv1alpha1.GroupVersion.String(), "DataSharingAgreement"
			a.Generation, a.Status.ObservedGeneration, a.Status.Phase = 3, 3, phase
			conditions.Set(&a.Status.Conditions, 3, shcrv1alpha1.ConditionActive, conditions.Bool(phase == shcrv1alpha1.PhaseActive), string(phase), "why")
			conditions.Set(&a.Status.Conditions, 3, shcrv1alpha1.ConditionReady, conditions.Bool(ready), "R", "m")
			conditions.Set(&a.Status.Conditions, 3, shcrv1alpha1.ConditionReconciling, metav1.ConditionFalse, "R", "")
			conditions.Set(&a.Status.Conditions, 3, shcrv1alpha1.ConditionStalled, metav1.ConditionFalse, "R", "")
			if phase == shcrv1alpha1.PhaseActive && !ready {
				continue // an Active version not Ready is the reconcile's to report
			}
			phaseHealth(&a.Status.Conditions, 3, phase, nil)
			if got := compute(t, a); got != kstatus {
				t.Errorf("%s (Ready %v before): kstatus %s, want %s", phase, ready, got, kstatus)
			}
		}
	}
	a := &shcrv1alpha1.DataSharingAgreement{}
	a.APIVersion, a.Kind = shcrv1alpha1.GroupVersion.String(), "DataSharingAgreement"
	conditions.Set(&a.Status.Conditions, 0, shcrv1alpha1.ConditionReconciling, metav1.ConditionTrue, "Progressing", "retrying")
	phaseHealth(&a.Status.Conditions, 0, shcrv1alpha1.PhaseExpired, errors.New("conflict"))
	if got := compute(t, a); got != status.InProgressStatus {
		t.Errorf("a failed reconcile of an Expired version: kstatus %s, want InProgress (retrying)", got)
	}
}

func compute(t *testing.T, a *shcrv1alpha1.DataSharingAgreement) status.Status {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(a)
	if err != nil {
		t.Fatal(err)
	}
	r, err := status.Compute(&unstructured.Unstructured{Object: m})
	if err != nil {
		t.Fatal(err)
	}
	return r.Status
}
