/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
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
