/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/index"
	"github.com/shcr-io/shcr-operator/internal/kube"
)

// membersOfAgreement maps an agreement to the members it names as parties,
// in its namespace.
func (r *Reconciler) membersOfAgreement(ctx context.Context, obj client.Object) []reconcile.Request {
	agreement := obj.(*shcrv1alpha1.DataSharingAgreement)
	var out []reconcile.Request
	for _, p := range agreement.Spec.Terms.Parties {
		out = append(out, r.membersWithCode(ctx, p.ODSCode, agreement.Namespace)...)
	}
	return out
}

// sameODSCode maps a member to the other members with its ODS code, so that
// when the first holder of a code goes, the next is admitted.
func (r *Reconciler) sameODSCode(ctx context.Context, obj client.Object) []reconcile.Request {
	var out []reconcile.Request
	for _, req := range r.membersWithCode(ctx, obj.(*shcrv1alpha1.MemberOrganisation).Spec.ODSCode, "") {
		if req.Name != obj.GetName() || req.Namespace != obj.GetNamespace() {
			out = append(out, req)
		}
	}
	return out
}

func (r *Reconciler) membersWithCode(ctx context.Context, code, namespace string) []reconcile.Request {
	members := &shcrv1alpha1.MemberOrganisationList{}
	opts := []client.ListOption{client.MatchingFields{index.MemberODSCode: code}}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	if err := r.Client.List(ctx, members, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing the members with an ODS code; they wait for their next event", "odsCode", code, "namespace", namespace)
		return nil
	}
	return kube.Requests(members)
}
