/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateRegion checks the rules of a ShCRRegion that the CRD's OpenAPI and
// CEL rules cannot express. The reconciler runs it before changing anything,
// so the operator stays correct even where admission was bypassed.
func ValidateRegion(region *ShCRRegion) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	errs = append(errs, validateResources(region.Spec.RecordService.Resources, spec.Child("recordService", "resources"))...)
	errs = append(errs, validateResources(region.Spec.Gateway.Resources, spec.Child("gateway", "resources"))...)
	return errs
}

// validateResources refuses a request above its limit, which the API server
// would only refuse later, pod by pod.
func validateResources(res *corev1.ResourceRequirements, path *field.Path) field.ErrorList {
	if res == nil {
		return nil
	}
	var errs field.ErrorList
	for name, request := range res.Requests {
		if limit, ok := res.Limits[name]; ok && request.Cmp(limit) > 0 {
			errs = append(errs, field.Invalid(path.Child("requests").Key(string(name)), request.String(),
				"must not exceed limits."+string(name)+" ("+limit.String()+")"))
		}
	}
	return errs
}
