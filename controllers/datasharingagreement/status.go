/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/conditions"
)

func setCondition(agreement *shcrv1alpha1.DataSharingAgreement, conditionType string, status metav1.ConditionStatus, reason, message string) {
	conditions.Set(&agreement.Status.Conditions, agreement.Generation, conditionType, status, reason, message)
}

// markNotInRegion records an agreement outside a region namespace: Invalid.
func markNotInRegion(agreement *shcrv1alpha1.DataSharingAgreement) {
	agreement.Status.Phase = shcrv1alpha1.PhaseInvalid
	setCondition(agreement, shcrv1alpha1.ConditionReady, metav1.ConditionFalse, shcrv1alpha1.ReasonNotInRegion,
		fmt.Sprintf("namespace %s is not a region namespace: create DataSharingAgreements in shcr-<region>", agreement.Namespace))
}

// markPhase records a derived phase in status.
func markPhase(agreement *shcrv1alpha1.DataSharingAgreement, d derived) {
	agreement.Status.Phase = d.phase
	agreement.Status.NextTransitionTime = nil
	if !d.next.IsZero() {
		agreement.Status.NextTransitionTime = &metav1.Time{Time: d.next}
	}
	if d.phase == shcrv1alpha1.PhaseActive {
		if agreement.Status.ActiveSince == nil || !agreement.Status.ActiveSince.Time.Equal(d.activeSince) {
			agreement.Status.ActiveSince = &metav1.Time{Time: d.activeSince}
		}
	}
	setCondition(agreement, shcrv1alpha1.ConditionActive, conditions.Bool(d.phase == shcrv1alpha1.PhaseActive), shcrv1alpha1.PhaseReason(d.phase), d.message)
	status, reason, message := termsValidity(d)
	setCondition(agreement, shcrv1alpha1.ConditionTermsValid, status, reason, message)
}

// termsValidity is the TermsValid condition of a derived phase: it speaks of
// the terms only, never of approvals or the clock, which Approved and Active
// report.
func termsValidity(d derived) (metav1.ConditionStatus, string, string) {
	if d.phase != shcrv1alpha1.PhaseInvalid && d.phase != shcrv1alpha1.PhaseSuspended {
		return metav1.ConditionTrue, shcrv1alpha1.ReasonTermsHold,
			"the terms can hold: this version is not suspended, not a duplicate of another object's, and the agreement ledger agrees with it"
	}
	reason := shcrv1alpha1.PhaseReason(d.phase)
	if d.reason != "" {
		reason = d.reason
	}
	return metav1.ConditionFalse, reason, d.message
}

// setApproved records which controller parties' approvals count.
func setApproved(agreement *shcrv1alpha1.DataSharingAgreement, missing, unsigned []string, approved bool) {
	agreement.Status.MissingApprovals = missing
	switch {
	case len(missing) == 0:
		setCondition(agreement, shcrv1alpha1.ConditionApproved, metav1.ConditionTrue, shcrv1alpha1.ReasonApproved,
			"every controller party has approved the terms, each approval recorded by one of its signatories")
	case approved:
		agreement.Status.MissingApprovals = nil
		setCondition(agreement, shcrv1alpha1.ConditionApproved, metav1.ConditionTrue, shcrv1alpha1.ReasonApproved, fmt.Sprintf(
			"every controller party's signatory approved the terms when the version was recorded in the agreement ledger "+
				"(the approval for %s would not count today)", strings.Join(missing, ", ")))
	case len(unsigned) > 0:
		setCondition(agreement, shcrv1alpha1.ConditionApproved, metav1.ConditionFalse, shcrv1alpha1.ReasonNotSignatory, fmt.Sprintf(
			"the approval for %s is not counted: it was recorded by an identity that is not a signatory of that organisation "+
				"(spec.signatories of its MemberOrganisation); awaiting approval from %s",
			strings.Join(unsigned, ", "), strings.Join(missing, ", ")))
	default:
		setCondition(agreement, shcrv1alpha1.ConditionApproved, metav1.ConditionFalse, shcrv1alpha1.ReasonAwaitingApprovals,
			"awaiting approval from "+strings.Join(missing, ", "))
	}
}

// setRecorded records what the agreement ledger says of the version.
func setRecorded(agreement *shcrv1alpha1.DataSharingAgreement, ledger ledgerState) {
	switch {
	case ledger.mismatch != "":
		setCondition(agreement, shcrv1alpha1.ConditionRecorded, metav1.ConditionFalse, shcrv1alpha1.ReasonLedgerMismatch, ledger.mismatch)
	case ledger.recorded:
		setCondition(agreement, shcrv1alpha1.ConditionRecorded, metav1.ConditionTrue, shcrv1alpha1.ReasonRecorded,
			"the agreement ledger records this version with these terms")
	default:
		setCondition(agreement, shcrv1alpha1.ConditionRecorded, metav1.ConditionFalse, shcrv1alpha1.ReasonNotYetApproved,
			"recorded in the agreement ledger once every controller party has approved")
	}
}

// partiesDisplay writes the parties as "ODS:Role", comma-separated, for
// the Parties printer column.
func partiesDisplay(parties []shcrv1alpha1.Party) string {
	out := make([]string, len(parties))
	for i, p := range parties {
		out[i] = p.ODSCode + ":" + string(p.Role)
	}
	return strings.Join(out, ",")
}

// summarise sets Ready from the other conditions and the phase
// (phaseHealth), and observedGeneration when the reconcile succeeded.
func summarise(agreement *shcrv1alpha1.DataSharingAgreement, reconcileErr error) {
	if conditions.Summarise(&agreement.Status.Conditions, agreement.Generation,
		[]string{shcrv1alpha1.ConditionApproved, shcrv1alpha1.ConditionRecorded, shcrv1alpha1.ConditionTermsValid}, reconcileErr,
		fmt.Sprintf("approved; phase %s", agreement.Status.Phase)) {
		agreement.Status.ObservedGeneration = agreement.Generation
	}
	phaseHealth(&agreement.Status.Conditions, agreement.Generation, agreement.Status.Phase, reconcileErr)
}

// patchStatus sets Ready from the other conditions and the phase, and
// writes status once, only when it changed (conditions.PatchStatus).
func (r *Reconciler) patchStatus(ctx context.Context, base, agreement *shcrv1alpha1.DataSharingAgreement, reconcileErr error) error {
	summarise(agreement, reconcileErr)
	keepTransitionTimes(base.Status.Conditions, agreement.Status.Conditions)
	return conditions.PatchStatus(ctx, r.Client, r.Recorder, agreementStatus, base, agreement)
}

// agreementStatus is how conditions.PatchStatus reads a DataSharingAgreement.
var agreementStatus = conditions.Status[*shcrv1alpha1.DataSharingAgreement]{
	Kind:       "DataSharingAgreement",
	Of:         func(o *shcrv1alpha1.DataSharingAgreement) any { return o.Status },
	Conditions: func(o *shcrv1alpha1.DataSharingAgreement) []metav1.Condition { return o.Status.Conditions },
}
