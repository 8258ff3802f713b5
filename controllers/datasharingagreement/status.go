/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/conditions"
)

func (r *Reconciler) set(agreement *shcrv1alpha1.DataSharingAgreement, conditionType string, status metav1.ConditionStatus, reason, message string) {
	conditions.Set(&agreement.Status.Conditions, agreement.Generation, conditionType, status, reason, message)
}

// patchStatus sets Ready from the other conditions and the phase, and
// writes status once, only when it changed (conditions.PatchStatus).
func (r *Reconciler) patchStatus(ctx context.Context, base, agreement *shcrv1alpha1.DataSharingAgreement, reconcileErr error) error {
	if conditions.Summarise(&agreement.Status.Conditions, agreement.Generation,
		[]string{shcrv1alpha1.ConditionApproved, shcrv1alpha1.ConditionRecorded, shcrv1alpha1.ConditionTermsValid}, reconcileErr,
		fmt.Sprintf("approved; phase %s", agreement.Status.Phase)) {
		agreement.Status.ObservedGeneration = agreement.Generation
	}
	phaseHealth(&agreement.Status.Conditions, agreement.Generation, agreement.Status.Phase, reconcileErr)
	keepTransitionTimes(base.Status.Conditions, agreement.Status.Conditions)
	return conditions.PatchStatus(ctx, r.Client, r.Recorder, agreementStatus, base, agreement)
}

// agreementStatus is how conditions.PatchStatus reads a DataSharingAgreement.
var agreementStatus = conditions.Status[*shcrv1alpha1.DataSharingAgreement]{
	Kind:       "DataSharingAgreement",
	Of:         func(o *shcrv1alpha1.DataSharingAgreement) any { return o.Status },
	Conditions: func(o *shcrv1alpha1.DataSharingAgreement) []metav1.Condition { return o.Status.Conditions },
}
