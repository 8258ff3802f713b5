/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/conditions"
)

// summarised are the conditions an organisation's Ready summarises.
var summarised = []string{
	shcrv1alpha1.ConditionAdmitted,
	shcrv1alpha1.ConditionCredentialsFound,
	shcrv1alpha1.ConditionConnectorAvailable,
}

func summarise(member *shcrv1alpha1.MemberOrganisation, reconcileErr error) {
	if conditions.Summarise(&member.Status.Conditions, member.Generation, summarised, reconcileErr,
		"the organisation is admitted and its connector is running") {
		member.Status.ObservedGeneration = member.Generation
	}
}

func (r *Reconciler) set(member *shcrv1alpha1.MemberOrganisation, conditionType string, status metav1.ConditionStatus, reason, message string) {
	conditions.Set(&member.Status.Conditions, member.Generation, conditionType, status, reason, message)
}

// patchStatus sets Ready from the other conditions and writes status once,
// only when it changed (conditions.PatchStatus).
func (r *Reconciler) patchStatus(ctx context.Context, base, member *shcrv1alpha1.MemberOrganisation, reconcileErr error) error {
	summarise(member, reconcileErr)
	return conditions.PatchStatus(ctx, r.Client, r.Recorder, memberStatus, base, member)
}

// memberStatus is how conditions.PatchStatus reads a MemberOrganisation.
var memberStatus = conditions.Status[*shcrv1alpha1.MemberOrganisation]{
	Kind:       "MemberOrganisation",
	Of:         func(o *shcrv1alpha1.MemberOrganisation) any { return o.Status },
	Conditions: func(o *shcrv1alpha1.MemberOrganisation) []metav1.Condition { return o.Status.Conditions },
}
