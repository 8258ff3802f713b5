/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/index"
	"github.com/shcr-io/shcr-operator/internal/kube"
)

// agreementsNamingMember maps a member to every agreement naming its ODS
// code, in any region (a cross-region agreement names the peer's members).
func (r *Reconciler) agreementsNamingMember(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.agreements(ctx, client.MatchingFields{index.AgreementParty: obj.(*shcrv1alpha1.MemberOrganisation).Spec.ODSCode})
}

// otherVersions maps an agreement to the other versions of the same
// agreementId: a new version can supersede them, and a peer region's copy
// confirms a cross-region agreement.
func (r *Reconciler) otherVersions(ctx context.Context, obj client.Object) []reconcile.Request {
	var out []reconcile.Request
	for _, req := range r.agreements(ctx, client.MatchingFields{index.AgreementID: obj.(*shcrv1alpha1.DataSharingAgreement).Spec.AgreementID}) {
		if req.Name != obj.GetName() || req.Namespace != obj.GetNamespace() {
			out = append(out, req)
		}
	}
	return out
}

// regionChanged maps a region to the agreements that depend on it: the
// cross-region agreements whose confirmation reads its peers list (its own,
// and those naming it as peer, found by index), and, when its namespace
// became or stopped being a region namespace, every agreement in it.
func (r *Reconciler) regionChanged(ctx context.Context, obj client.Object) []reconcile.Request {
	out := r.agreements(ctx, client.MatchingFields{index.CrossRegionNamespace: shcrv1alpha1.NamespaceFor(obj.GetName())})
	return append(out, r.inRegion(ctx, obj)...)
}

func (r *Reconciler) inRegion(ctx context.Context, region client.Object) []reconcile.Request {
	return kube.ObjectsInRegion(r.Client, func() client.ObjectList { return &shcrv1alpha1.DataSharingAgreementList{} })(ctx, region)
}

func (r *Reconciler) agreements(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	list := &shcrv1alpha1.DataSharingAgreementList{}
	if err := r.Client.List(ctx, list, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing the agreements an event concerns; they wait for their next event", "selector", fmt.Sprint(opts))
		return nil
	}
	return kube.Requests(list)
}
