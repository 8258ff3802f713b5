/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package accesspolicy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/index"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/metrics"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// Reconcile reports one policy's effective grants.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	ap := &shcrv1alpha1.AccessPolicy{}
	if err := r.Client.Get(ctx, req.NamespacedName, ap); err != nil {
		if client.IgnoreNotFound(err) == nil {
			metrics.SetStalled("AccessPolicy", req.Namespace, req.Name, false)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ap.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	base := ap.DeepCopy()
	defer func() {
		reterr = errors.Join(reterr, r.patchStatus(ctx, base, ap, reterr))
	}()
	ap.Status.RolesDisplay = strings.Join(ap.Spec.Subjects.Roles, ",")

	if _, err := kube.RegionOf(ctx, r.Client, ap.Namespace); errors.Is(err, kube.ErrNotRegionNamespace) {
		r.clear(ap)
		r.set(ap, shcrv1alpha1.ConditionScopeNarrowed, metav1.ConditionFalse, shcrv1alpha1.ReasonNotInRegion, "no agreement to judge the policy against")
		r.set(ap, shcrv1alpha1.ConditionReady, metav1.ConditionFalse, shcrv1alpha1.ReasonNotInRegion,
			fmt.Sprintf("namespace %s is not a region namespace: create AccessPolicies in shcr-<region>", ap.Namespace))
		return ctrl.Result{}, reconcile.TerminalError(err)
	} else if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading the region of AccessPolicy %s/%s: %w", ap.Namespace, ap.Name, err)
	}

	versions := &shcrv1alpha1.DataSharingAgreementList{}
	if err := r.Client.List(ctx, versions, client.InNamespace(ap.Namespace),
		client.MatchingFields{index.AgreementID: ap.Spec.AgreementID}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the versions of agreement %s for AccessPolicy %s/%s: %w", ap.Spec.AgreementID, ap.Namespace, ap.Name, err)
	}
	governing := governance.GoverningVersion(versions.Items)
	r.warn(ap, governing)
	switch {
	case governing == nil:
		r.clear(ap)
		r.set(ap, shcrv1alpha1.ConditionScopeNarrowed, metav1.ConditionFalse, shcrv1alpha1.ReasonAgreementNotFound, "no agreement to judge the policy against")
		r.set(ap, shcrv1alpha1.ConditionInForce, metav1.ConditionFalse, shcrv1alpha1.ReasonAgreementNotFound, fmt.Sprintf(
			"spec.agreementId: no DataSharingAgreement with agreementId %s exists in this region: the policy grants nothing", ap.Spec.AgreementID))
	case governing.Status.Phase != shcrv1alpha1.PhaseActive:
		r.clear(ap)
		r.setScope(ap, governing)
		r.set(ap, shcrv1alpha1.ConditionInForce, metav1.ConditionFalse, shcrv1alpha1.ReasonAgreementNotActive, fmt.Sprintf(
			"agreement %s exists, but none of its %d version(s) is Active: the policy grants nothing", ap.Spec.AgreementID, len(versions.Items)))
	default:
		r.report(ap, governing)
	}
	return ctrl.Result{}, nil
}

// warn sets Warnings from what the policy says but will not do
// (governance.PolicyWarnings), against the governing version when there is
// one, as the admission webhook warns.
func (r *Reconciler) warn(ap *shcrv1alpha1.AccessPolicy, governing *shcrv1alpha1.DataSharingAgreement) {
	warnings := governance.PolicyWarnings(ap, governing)
	if len(warnings) == 0 {
		r.set(ap, shcrv1alpha1.ConditionWarnings, metav1.ConditionFalse, shcrv1alpha1.ReasonNoWarnings, "")
		return
	}
	r.set(ap, shcrv1alpha1.ConditionWarnings, metav1.ConditionTrue, shcrv1alpha1.ReasonPolicyWarnings, strings.Join(warnings, "; "))
}

// report records the policy's grants intersected with the active version,
// and what the intersection dropped.
func (r *Reconciler) report(ap *shcrv1alpha1.AccessPolicy, active *shcrv1alpha1.DataSharingAgreement) {
	agreement := governance.PolicyAgreement(active)
	full := governance.PolicyPolicy(ap)
	dropped := map[string]bool{}
	var grants []shcrv1alpha1.EffectiveGrant
	for _, g := range full.Grants {
		single := full
		single.Grants = []policy.PolicyGrant{g}
		kept, lost := policy.ExplainScope(single, agreement)
		for _, c := range lost {
			dropped[c] = true
		}
		if len(kept) == 0 {
			continue
		}
		eg := shcrv1alpha1.EffectiveGrant{}
		for _, c := range kept {
			eg.Categories = append(eg.Categories, shcrv1alpha1.DataCategory(c))
		}
		for _, a := range g.Actions {
			eg.Actions = append(eg.Actions, shcrv1alpha1.Action(a))
		}
		if len(eg.Actions) == 0 {
			eg.Actions = []shcrv1alpha1.Action{shcrv1alpha1.ActionRead, shcrv1alpha1.ActionSearch}
		}
		grants = append(grants, eg)
	}
	ap.Status.AgreementVersion = active.Spec.Version
	ap.Status.EffectiveGrants = grants
	ap.Status.DroppedCategories = nil
	for _, c := range shcrv1alpha1.AllCategories {
		if dropped[string(c)] {
			ap.Status.DroppedCategories = append(ap.Status.DroppedCategories, c)
		}
	}

	r.setScope(ap, active)
	if len(grants) == 0 {
		r.set(ap, shcrv1alpha1.ConditionInForce, metav1.ConditionFalse, shcrv1alpha1.ReasonNothingGranted,
			fmt.Sprintf("none of the policy's categories are in %s v%d", active.Spec.AgreementID, active.Spec.Version))
		return
	}
	r.set(ap, shcrv1alpha1.ConditionInForce, metav1.ConditionTrue, shcrv1alpha1.ReasonInForce,
		fmt.Sprintf("enforced under %s v%d", active.Spec.AgreementID, active.Spec.Version))
}

// setScope sets ScopeNarrowed from what the policy names outside its
// governing agreement version (governance.WithinAgreement, the rule the
// admission webhook refuses by).
func (r *Reconciler) setScope(ap *shcrv1alpha1.AccessPolicy, governing *shcrv1alpha1.DataSharingAgreement) {
	if errs := governance.WithinAgreement(ap, governing); len(errs) > 0 {
		r.set(ap, shcrv1alpha1.ConditionScopeNarrowed, metav1.ConditionTrue, shcrv1alpha1.ReasonNarrowed,
			"what the agreement does not cover is neither enforced nor granted: "+errs.ToAggregate().Error())
		return
	}
	r.set(ap, shcrv1alpha1.ConditionScopeNarrowed, metav1.ConditionFalse, shcrv1alpha1.ReasonWithinScope,
		fmt.Sprintf("every grant is within %s v%d", governing.Spec.AgreementID, governing.Spec.Version))
}

// clear empties the effective grants of a policy that grants nothing.
func (r *Reconciler) clear(ap *shcrv1alpha1.AccessPolicy) {
	ap.Status.AgreementVersion = 0
	ap.Status.EffectiveGrants = nil
	ap.Status.DroppedCategories = nil
}

func joinCategories(cats []shcrv1alpha1.DataCategory) string {
	s := make([]string, len(cats))
	for i, c := range cats {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
