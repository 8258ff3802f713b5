/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package accesspolicy

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/conditions"
)

func (r *Reconciler) set(ap *shcrv1alpha1.AccessPolicy, conditionType string, status metav1.ConditionStatus, reason, message string) {
	conditions.Set(&ap.Status.Conditions, ap.Generation, conditionType, status, reason, message)
}

// patchStatus sets Ready from InForce and writes status once, only when it
// changed (conditions.PatchStatus).
func (r *Reconciler) patchStatus(ctx context.Context, base, ap *shcrv1alpha1.AccessPolicy, reconcileErr error) error {
	if conditions.Summarise(&ap.Status.Conditions, ap.Generation, []string{shcrv1alpha1.ConditionInForce}, reconcileErr,
		fmt.Sprintf("in force under %s v%d", ap.Spec.AgreementID, ap.Status.AgreementVersion)) {
		ap.Status.ObservedGeneration = ap.Generation
	}
	return conditions.PatchStatus(ctx, r.Client, r.Recorder, policyStatus, base, ap)
}

// policyStatus is how conditions.PatchStatus reads a AccessPolicy.
var policyStatus = conditions.Status[*shcrv1alpha1.AccessPolicy]{
	Kind:       "AccessPolicy",
	Of:         func(o *shcrv1alpha1.AccessPolicy) any { return o.Status },
	Conditions: func(o *shcrv1alpha1.AccessPolicy) []metav1.Condition { return o.Status.Conditions },
}
