/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package webhook holds the admission webhooks for the rules that span
// objects: ODS codes unique across the cluster, agreement parties that are
// members, policies within their agreement, no reference across regions but
// through a cross-region agreement, and the stamping of who recorded each
// approval. The webhooks only see region namespaces (namespaceSelector), so
// an operator outage never blocks anything else; the reconcilers apply the
// same rules again, so the operator stays correct without them.
package webhook

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/index"
)

// Setup registers every webhook with the manager. The field indexes must
// already be registered.
func Setup(mgr ctrl.Manager) error {
	c := mgr.GetClient()
	if err := ctrl.NewWebhookManagedBy(mgr, &shcrv1alpha1.MemberOrganisation{}).
		WithValidator(&memberValidator{client: c}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &shcrv1alpha1.DataSharingAgreement{}).
		WithValidator(&agreementValidator{client: c}).Complete(); err != nil {
		return err
	}
	// The defaulter runs before the API server checks the schema, so it is
	// the first to decode a mistyped field: it refuses in words, not Go's.
	mgr.GetWebhookServer().Register("/mutate-shcr-io-v1alpha1-datasharingagreement", &admission.Webhook{
		Handler: readableDecode[shcrv1alpha1.DataSharingAgreement]{next: admission.WithDefaulter(mgr.GetScheme(), &approvalStamper{})},
	})
	return ctrl.NewWebhookManagedBy(mgr, &shcrv1alpha1.AccessPolicy{}).
		WithValidator(&policyValidator{client: c}).Complete()
}

func invalid(kind, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: shcrv1alpha1.GroupVersion.Group, Kind: kind}, name, errs)
}

// +kubebuilder:webhook:path=/validate-shcr-io-v1alpha1-memberorganisation,mutating=false,failurePolicy=fail,sideEffects=None,groups=shcr.io,resources=memberorganisations,verbs=create;update,versions=v1alpha1,name=vmemberorganisation.shcr.io,admissionReviewVersions=v1,patch=`{"namespaceSelector":{"matchExpressions":[{"key":"shcr.io/region","operator":"Exists"}]}}`

type memberValidator struct{ client client.Reader }

func (v *memberValidator) ValidateCreate(ctx context.Context, m *shcrv1alpha1.MemberOrganisation) (admission.Warnings, error) {
	return nil, v.validate(ctx, m)
}

func (v *memberValidator) ValidateUpdate(ctx context.Context, _, m *shcrv1alpha1.MemberOrganisation) (admission.Warnings, error) {
	return nil, v.validate(ctx, m)
}

func (v *memberValidator) ValidateDelete(context.Context, *shcrv1alpha1.MemberOrganisation) (admission.Warnings, error) {
	return nil, nil
}

func (v *memberValidator) validate(ctx context.Context, m *shcrv1alpha1.MemberOrganisation) error {
	same := &shcrv1alpha1.MemberOrganisationList{}
	if err := v.client.List(ctx, same, client.MatchingFields{index.MemberODSCode: m.Spec.ODSCode}); err != nil {
		return apierrors.NewInternalError(err)
	}
	return invalid("MemberOrganisation", m.Name, governance.UniqueODSCode(m, same.Items))
}
