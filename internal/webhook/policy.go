/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package webhook

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/index"
)

// +kubebuilder:webhook:path=/validate-shcr-io-v1alpha1-accesspolicy,mutating=false,failurePolicy=fail,sideEffects=None,groups=shcr.io,resources=accesspolicies,verbs=create;update,versions=v1alpha1,name=vaccesspolicy.shcr.io,admissionReviewVersions=v1,patch=`{"namespaceSelector":{"matchExpressions":[{"key":"shcr.io/region","operator":"Exists"}]}}`

type policyValidator struct{ client client.Reader }

func (v *policyValidator) ValidateCreate(ctx context.Context, p *shcrv1alpha1.AccessPolicy) (admission.Warnings, error) {
	return v.validate(ctx, nil, p)
}

func (v *policyValidator) ValidateUpdate(ctx context.Context, old, p *shcrv1alpha1.AccessPolicy) (admission.Warnings, error) {
	return v.validate(ctx, &old.Spec, p)
}

func (v *policyValidator) ValidateDelete(context.Context, *shcrv1alpha1.AccessPolicy) (admission.Warnings, error) {
	return nil, nil
}

func (v *policyValidator) validate(ctx context.Context, oldSpec *shcrv1alpha1.AccessPolicySpec, p *shcrv1alpha1.AccessPolicy) (admission.Warnings, error) {
	var old any
	if oldSpec != nil {
		old = oldSpec
	}
	if errs, err := ownedNamespace(ctx, v.client, p.Namespace, old, &p.Spec); err != nil {
		return nil, err
	} else if len(errs) > 0 {
		return nil, invalid("AccessPolicy", p.Name, errs)
	}
	versions := &shcrv1alpha1.DataSharingAgreementList{}
	if err := v.client.List(ctx, versions, client.InNamespace(p.Namespace),
		client.MatchingFields{index.AgreementID: p.Spec.AgreementID}); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	agreement := governance.GoverningVersion(versions.Items)
	warnings := admission.Warnings(governance.PolicyWarnings(p, agreement))
	if agreement == nil {
		return append(warnings, fmt.Sprintf(
			"agreement %s is not known in %s yet: the policy grants nothing until it is Active", p.Spec.AgreementID, p.Namespace)), nil
	}
	if err := invalid("AccessPolicy", p.Name, governance.WithinAgreement(p, agreement)); err != nil {
		return nil, err
	}
	return warnings, nil
}
