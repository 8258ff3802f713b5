/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package datasharingagreement

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
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

// partyFactsChanged passes a MemberOrganisation's update only when
// something an agreement reads of its parties may have changed: its spec
// (ODS code, roles, signatories: the generation), its deletion, or its
// Admitted condition's status and the generation it was decided for
// (governance.PolicyMember, admissionUndecided). A member's other status
// (its connector rolling out, the categories it provides, Ready) is
// derived from its agreements, never read by them: an onboarding writes it
// two or three times per organisation, and each write would otherwise
// reconcile every agreement naming the organisation again.
func partyFactsChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		old, ok1 := e.ObjectOld.(*shcrv1alpha1.MemberOrganisation)
		cur, ok2 := e.ObjectNew.(*shcrv1alpha1.MemberOrganisation)
		if !ok1 || !ok2 {
			return true
		}
		return old.Generation != cur.Generation || !old.DeletionTimestamp.Equal(cur.DeletionTimestamp) ||
			admissionOf(old) != admissionOf(cur)
	}}
}

// admission is what an agreement reads of a member's Admitted condition.
type admission struct {
	present    bool
	status     string
	generation int64
}

func admissionOf(m *shcrv1alpha1.MemberOrganisation) admission {
	c := meta.FindStatusCondition(m.Status.Conditions, shcrv1alpha1.ConditionAdmitted)
	if c == nil {
		return admission{}
	}
	return admission{present: true, status: string(c.Status), generation: c.ObservedGeneration}
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
