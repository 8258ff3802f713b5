/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package webhook

import (
	"context"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// The region webhook's failure policy is Ignore: a region is cluster-scoped,
// so a namespace selector cannot keep an operator outage from blocking every
// region change in the cluster. With the webhook down the CRD's own schema
// and CEL rules still refuse most bad values, and the region reconciler runs
// the same ValidateRegion before it creates anything (Stalled, InvalidSpec,
// naming the field).
// +kubebuilder:webhook:path=/validate-shcr-io-v1alpha1-shcrregion,mutating=false,failurePolicy=ignore,sideEffects=None,groups=shcr.io,resources=shcrregions,verbs=create;update,versions=v1alpha1,name=vshcrregion.shcr.io,admissionReviewVersions=v1

// regionValidator refuses a region whose spec the reconciler would refuse:
// image references the registry grammar cannot parse, sizes and quotas of
// zero or less, admin subjects a RoleBinding cannot hold.
type regionValidator struct{}

func (regionValidator) ValidateCreate(_ context.Context, r *shcrv1alpha1.ShCRRegion) (admission.Warnings, error) {
	return nil, invalid("ShCRRegion", r.Name, shcrv1alpha1.ValidateRegion(r))
}

// ValidateUpdate checks a changed spec only: an update that leaves the spec
// as stored (the operator removing its finalizer, a label) goes through,
// so that a region stored before a rule existed can still be deleted.
func (regionValidator) ValidateUpdate(_ context.Context, old, r *shcrv1alpha1.ShCRRegion) (admission.Warnings, error) {
	if apiequality.Semantic.DeepEqual(old.Spec, r.Spec) {
		return nil, nil
	}
	return nil, invalid("ShCRRegion", r.Name, shcrv1alpha1.ValidateRegion(r))
}

func (regionValidator) ValidateDelete(context.Context, *shcrv1alpha1.ShCRRegion) (admission.Warnings, error) {
	return nil, nil
}
