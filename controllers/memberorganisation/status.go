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
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// summarised are the conditions an organisation's Ready summarises.
var summarised = []string{
	shcrv1alpha1.ConditionAdmitted,
	shcrv1alpha1.ConditionCredentialsFound,
	shcrv1alpha1.ConditionConnectorAvailable,
}

// summarise sets Ready, Reconciling and Stalled from Admitted,
// CredentialsFound and ConnectorAvailable and the reconcile's outcome, and
// observedGeneration when it succeeded.
func summarise(member *shcrv1alpha1.MemberOrganisation, reconcileErr error) {
	if conditions.Summarise(&member.Status.Conditions, member.Generation, summarised, reconcileErr,
		"the organisation is admitted and its connector is running") {
		member.Status.ObservedGeneration = member.Generation
	}
}

func setCondition(member *shcrv1alpha1.MemberOrganisation, conditionType string, status metav1.ConditionStatus, reason, message string) {
	conditions.Set(&member.Status.Conditions, member.Generation, conditionType, status, reason, message)
}

// markAdmission sets Admitted from the organisation's governance and its
// connector's credentials, and when it is admitted until when; it returns
// whether it is admitted.
func markAdmission(member *shcrv1alpha1.MemberOrganisation, admission governance.Admission, credentialsOK bool) bool {
	admitted := admission.Admitted && credentialsOK
	switch {
	case !admission.Admitted:
		setCondition(member, shcrv1alpha1.ConditionAdmitted, metav1.ConditionFalse, admission.Reason, admission.Message)
	case !credentialsOK:
		setCondition(member, shcrv1alpha1.ConditionAdmitted, metav1.ConditionFalse, shcrv1alpha1.ReasonCredentialsMissing,
			"the connector's credentials are missing: nothing is shared until they are present")
	default:
		setCondition(member, shcrv1alpha1.ConditionAdmitted, metav1.ConditionTrue, admission.Reason, admission.Message)
	}
	member.Status.AdmissionExpiresAt = nil
	if admitted {
		member.Status.AdmissionExpiresAt = &metav1.Time{Time: admission.ExpiresAt}
	}
	return admitted
}

// markRefused records an organisation that cannot be admitted whatever its
// governance says: not Admitted, not Ready, and nothing it may provide or
// consume.
func markRefused(member *shcrv1alpha1.MemberOrganisation, reason, message string) {
	setCondition(member, shcrv1alpha1.ConditionAdmitted, metav1.ConditionFalse, reason, message)
	setCondition(member, shcrv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	member.Status.ProvidesCategories, member.Status.ConsumesCategories, member.Status.AdmissionExpiresAt = nil, nil, nil
}

// showKindAndMode says in status which connector kind and mode the operator
// runs for an admitted Provider (from the first reconcile that deploys it,
// before the connector has reported anything), and nothing otherwise: not
// for one with nothing to provide yet, which runs no connector (GP Connect,
// read by the gateway, is shown whenever the practice is admitted).
func showKindAndMode(member *shcrv1alpha1.MemberOrganisation, admitted bool) {
	c := member.Spec.Connector
	if c == nil || !admitted || !hasRole(member, shcrv1alpha1.RoleProvider) ||
		(!specs.IsGPConnect(member) && len(member.Status.ProvidesCategories) == 0) {
		return
	}
	if member.Status.Connector == nil {
		member.Status.Connector = &shcrv1alpha1.ConnectorStatus{}
	}
	member.Status.Connector.Kind, member.Status.Connector.Mode = c.Kind, c.Mode
	if c.Mode == "" {
		member.Status.Connector.Mode = shcrv1alpha1.ConnectorPull
	}
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
