/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package accesspolicy

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/index"
	"github.com/shcr-io/shcr-operator/internal/kube"
)

// policiesOfAgreement maps an agreement version to the policies that grant
// under its agreementId, in its namespace.
func (r *Reconciler) policiesOfAgreement(ctx context.Context, obj client.Object) []reconcile.Request {
	policies := &shcrv1alpha1.AccessPolicyList{}
	if err := r.Client.List(ctx, policies, client.InNamespace(obj.GetNamespace()),
		client.MatchingFields{index.PolicyAgreementID: obj.(*shcrv1alpha1.DataSharingAgreement).Spec.AgreementID}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing the policies of an agreement; they wait for their next event",
			"namespace", obj.GetNamespace(), "agreementId", obj.(*shcrv1alpha1.DataSharingAgreement).Spec.AgreementID)
		return nil
	}
	return kube.Requests(policies)
}
