/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package governance

import (
	"fmt"
	"slices"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// sensitivity orders the sensitive-data modes from least to most shared;
// unset is Exclude, the default.
var sensitivity = map[shcrv1alpha1.SensitiveDataMode]int{
	"": 0, shcrv1alpha1.SensitiveExclude: 0, shcrv1alpha1.SensitiveBreakGlassOnly: 1, shcrv1alpha1.SensitiveAllow: 2,
}

// PolicyWarnings are the parts of a policy that are accepted but do nothing,
// or less than they say, each naming the field: break-glass for a role the
// policy does not grant, an emergency-only policy without break-glass, and
// more sensitive access than the agreement (a, when known) allows.
func PolicyWarnings(p *shcrv1alpha1.AccessPolicy, a *shcrv1alpha1.DataSharingAgreement) []string {
	var warnings []string
	if bg := p.Spec.BreakGlass; bg != nil {
		for i, role := range bg.AllowedRoles {
			if !slices.Contains(p.Spec.Subjects.Roles, role) {
				warnings = append(warnings, fmt.Sprintf(
					"spec.breakGlass.allowedRoles[%d]: %s is not in spec.subjects.roles, so it can never break glass under this policy", i, role))
			}
		}
	}
	if len(p.Spec.PurposesOfUse) > 0 && !slices.ContainsFunc(p.Spec.PurposesOfUse, func(u shcrv1alpha1.PurposeOfUse) bool {
		return u != shcrv1alpha1.PurposeEmergencyTreat
	}) && p.Spec.BreakGlass == nil {
		warnings = append(warnings,
			"spec.purposesOfUse: ETREAT works only through break-glass and spec.breakGlass is not set, so this policy grants nothing")
	}
	if a != nil && sensitivity[p.Spec.SensitiveData] > sensitivity[a.Spec.Terms.SensitiveData] {
		agreed := a.Spec.Terms.SensitiveData
		if agreed == "" {
			agreed = shcrv1alpha1.SensitiveExclude
		}
		warnings = append(warnings, fmt.Sprintf(
			"spec.sensitiveData: %s is more than agreement %s version %d allows (%s); sensitive records are shared only as the agreement allows",
			p.Spec.SensitiveData, a.Spec.AgreementID, a.Spec.Version, agreed))
	}
	return warnings
}
