/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package webhook holds the admission webhooks for the rules that span
// objects: organisations, agreements and policies only in namespaces a
// region owns, region and member specs the reconcilers would refuse, ODS
// codes unique across the cluster, agreement parties that are
// members, policies within their agreement, no reference across regions but
// through a cross-region agreement, and the stamping of who recorded each
// approval. The namespaced webhooks only see region namespaces
// (namespaceSelector), and the cluster-scoped region's webhook ignores an
// outage, so an operator outage never blocks anything else; the reconcilers
// apply the same rules again, so the operator stays correct without them.
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
	if err := ctrl.NewWebhookManagedBy(mgr, &shcrv1alpha1.ShCRRegion{}).
		WithValidator(regionValidator{}).Complete(); err != nil {
		return err
	}
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
	if err := setupAssurance(mgr); err != nil {
		return err
	}
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
	return nil, v.validate(ctx, nil, m)
}

func (v *memberValidator) ValidateUpdate(ctx context.Context, old, m *shcrv1alpha1.MemberOrganisation) (admission.Warnings, error) {
	return nil, v.validate(ctx, &old.Spec, m)
}

func (v *memberValidator) ValidateDelete(context.Context, *shcrv1alpha1.MemberOrganisation) (admission.Warnings, error) {
	return nil, nil
}

// validate applies the rules the CRD's schema cannot: the namespace is one
// a region owns, the ODS code is unique, and the spec passes the same
// checks the reconciler makes (image references parsed with the registry
// grammar, endpoints without credentials). oldSpec is nil on create.
func (v *memberValidator) validate(ctx context.Context, oldSpec *shcrv1alpha1.MemberOrganisationSpec, m *shcrv1alpha1.MemberOrganisation) error {
	var old any
	if oldSpec != nil {
		old = oldSpec
	}
	errs, err := ownedNamespace(ctx, v.client, m.Namespace, old, &m.Spec)
	if err != nil {
		return err
	}
	same := &shcrv1alpha1.MemberOrganisationList{}
	if err := v.client.List(ctx, same, client.MatchingFields{index.MemberODSCode: m.Spec.ODSCode}); err != nil {
		return apierrors.NewInternalError(err)
	}
	errs = append(errs, governance.UniqueODSCode(m, same.Items)...)
	errs = append(errs, shcrv1alpha1.ValidateMember(m)...)
	return invalid("MemberOrganisation", m.Name, errs)
}
