/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/conditions"
)

// phaseHealth makes Ready, Reconciling and Stalled say what the phase means,
// so that GitOps tools read an agreement truthfully (kstatus reads only
// Reconciling and Stalled; the Argo CD script reads those, then Ready):
//
//   - Active: Ready. kstatus Current, Argo CD Healthy.
//   - Draft, Pending: on its way (signatures, the start date, the peer):
//     Reconciling. kstatus InProgress, Argo CD Progressing.
//   - Expired, Invalid: nothing is shared and only a person can change that
//     (a new version, fixed membership): Stalled. kstatus Failed, Argo CD
//     Degraded.
//   - Superseded: retired, its successor in force; settled, not broken:
//     Ready=True with reason Superseded (Active=False says it grants
//     nothing; kstatus reads Ready=False as InProgress, which would wait
//     for ever). kstatus Current, Argo CD Suspended.
//   - Suspended: as its spec asks: Ready=True with reason Suspended, Active
//     False. kstatus Current, Argo CD Suspended.
//
// It leaves alone what the reconcile itself reported: a failed or stalled
// reconcile, or an object not yet approved and recorded for another reason.
func phaseHealth(conds *[]metav1.Condition, generation int64, phase shcrv1alpha1.AgreementPhase, reconcileErr error) {
	if reconcileErr != nil || meta.IsStatusConditionTrue(*conds, shcrv1alpha1.ConditionStalled) {
		return
	}
	message := string(phase)
	if c := meta.FindStatusCondition(*conds, shcrv1alpha1.ConditionActive); c != nil && c.Message != "" {
		message = string(phase) + ": " + c.Message
	}
	set := func(t string, s metav1.ConditionStatus, msg string) {
		if t == shcrv1alpha1.ConditionReady && s == metav1.ConditionFalse && !meta.IsStatusConditionTrue(*conds, t) {
			return // already says why it is not Ready
		}
		conditions.Set(conds, generation, t, s, shcrv1alpha1.PhaseReason(phase), msg)
	}
	switch phase {
	case shcrv1alpha1.PhaseDraft, shcrv1alpha1.PhasePending:
		set(shcrv1alpha1.ConditionReady, metav1.ConditionFalse, message)
		set(shcrv1alpha1.ConditionReconciling, metav1.ConditionTrue, message)
	case shcrv1alpha1.PhaseExpired, shcrv1alpha1.PhaseInvalid:
		set(shcrv1alpha1.ConditionReady, metav1.ConditionFalse, message)
		set(shcrv1alpha1.ConditionReconciling, metav1.ConditionFalse, "")
		set(shcrv1alpha1.ConditionStalled, metav1.ConditionTrue, message)
	case shcrv1alpha1.PhaseSuperseded, shcrv1alpha1.PhaseSuspended:
		set(shcrv1alpha1.ConditionReady, metav1.ConditionTrue, message+" (settled; grants nothing)")
		set(shcrv1alpha1.ConditionReconciling, metav1.ConditionFalse, "")
	}
}

// keepTransitionTimes gives each condition whose status is what it was in
// before that condition's earlier transition time: Summarise and phaseHealth
// may pass a condition through another status on the way, which is no
// transition, and would otherwise make every reconcile write status.
func keepTransitionTimes(before []metav1.Condition, after []metav1.Condition) {
	for i := range after {
		if old := meta.FindStatusCondition(before, after[i].Type); old != nil && old.Status == after[i].Status {
			after[i].LastTransitionTime = old.LastTransitionTime
		}
	}
}
