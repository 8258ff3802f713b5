/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/index"
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

// crossRegionAgreements maps a region to the cross-region agreements whose
// confirmation depends on its peers list: its own, and those naming it as peer.
func (r *Reconciler) crossRegionAgreements(ctx context.Context, obj client.Object) []reconcile.Request {
	all := &shcrv1alpha1.DataSharingAgreementList{}
	if err := r.Client.List(ctx, all); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range all.Items {
		a := &all.Items[i]
		if a.Spec.Terms.Journey != shcrv1alpha1.JourneyCrossRegion {
			continue
		}
		if a.Namespace == shcrv1alpha1.NamespaceFor(obj.GetName()) || a.Spec.Terms.PeerRegion == obj.GetName() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(a)})
		}
	}
	return out
}

func (r *Reconciler) agreements(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	list := &shcrv1alpha1.DataSharingAgreementList{}
	if err := r.Client.List(ctx, list, opts...); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}
