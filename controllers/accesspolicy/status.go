/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package accesspolicy

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/conditions"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

func setCondition(ap *shcrv1alpha1.AccessPolicy, conditionType string, status metav1.ConditionStatus, reason, message string) {
	conditions.Set(&ap.Status.Conditions, ap.Generation, conditionType, status, reason, message)
}

// markNotInRegion records a policy outside a region namespace: it grants
// nothing and there is no agreement to judge it against.
func markNotInRegion(ap *shcrv1alpha1.AccessPolicy) {
	clearGrants(ap)
	setCondition(ap, shcrv1alpha1.ConditionScopeNarrowed, metav1.ConditionFalse, shcrv1alpha1.ReasonNotInRegion, "no agreement to judge the policy against")
	setCondition(ap, shcrv1alpha1.ConditionReady, metav1.ConditionFalse, shcrv1alpha1.ReasonNotInRegion,
		fmt.Sprintf("namespace %s is not a region namespace: create AccessPolicies in shcr-<region>", ap.Namespace))
}

// markNoAgreement records a policy whose agreementId no version holds.
func markNoAgreement(ap *shcrv1alpha1.AccessPolicy) {
	clearGrants(ap)
	setCondition(ap, shcrv1alpha1.ConditionScopeNarrowed, metav1.ConditionFalse, shcrv1alpha1.ReasonAgreementNotFound, "no agreement to judge the policy against")
	setCondition(ap, shcrv1alpha1.ConditionInForce, metav1.ConditionFalse, shcrv1alpha1.ReasonAgreementNotFound, fmt.Sprintf(
		"spec.agreementId: no DataSharingAgreement with agreementId %s exists in this region: the policy grants nothing", ap.Spec.AgreementID))
}

// markNotActive records a policy whose governing version, one of versions,
// is not Active: it grants nothing, and ScopeNarrowed still says what it
// names outside that version.
func markNotActive(ap *shcrv1alpha1.AccessPolicy, governing *shcrv1alpha1.DataSharingAgreement, versions int) {
	clearGrants(ap)
	setScope(ap, governing)
	setCondition(ap, shcrv1alpha1.ConditionInForce, metav1.ConditionFalse, shcrv1alpha1.ReasonAgreementNotActive, fmt.Sprintf(
		"agreement %s exists, but none of its %d version(s) is Active: the policy grants nothing", ap.Spec.AgreementID, versions))
}

// warn sets Warnings from what the policy says but will not do
// (governance.PolicyWarnings), against the governing version when there is
// one, as the admission webhook warns.
func warn(ap *shcrv1alpha1.AccessPolicy, governing *shcrv1alpha1.DataSharingAgreement) {
	warnings := governance.PolicyWarnings(ap, governing)
	if len(warnings) == 0 {
		setCondition(ap, shcrv1alpha1.ConditionWarnings, metav1.ConditionFalse, shcrv1alpha1.ReasonNoWarnings, "")
		return
	}
	setCondition(ap, shcrv1alpha1.ConditionWarnings, metav1.ConditionTrue, shcrv1alpha1.ReasonPolicyWarnings, strings.Join(warnings, "; "))
}

// report records the policy's grants intersected with the active version,
// and what the intersection dropped.
func report(ap *shcrv1alpha1.AccessPolicy, active *shcrv1alpha1.DataSharingAgreement) {
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

	setScope(ap, active)
	if len(grants) == 0 {
		setCondition(ap, shcrv1alpha1.ConditionInForce, metav1.ConditionFalse, shcrv1alpha1.ReasonNothingGranted,
			fmt.Sprintf("none of the policy's categories are in %s v%d", active.Spec.AgreementID, active.Spec.Version))
		return
	}
	setCondition(ap, shcrv1alpha1.ConditionInForce, metav1.ConditionTrue, shcrv1alpha1.ReasonInForce,
		fmt.Sprintf("enforced under %s v%d", active.Spec.AgreementID, active.Spec.Version))
}

// setScope sets ScopeNarrowed from what the policy names outside its
// governing agreement version (governance.WithinAgreement, the rule the
// admission webhook refuses by).
func setScope(ap *shcrv1alpha1.AccessPolicy, governing *shcrv1alpha1.DataSharingAgreement) {
	if errs := governance.WithinAgreement(ap, governing); len(errs) > 0 {
		setCondition(ap, shcrv1alpha1.ConditionScopeNarrowed, metav1.ConditionTrue, shcrv1alpha1.ReasonNarrowed,
			"what the agreement does not cover is neither enforced nor granted: "+errs.ToAggregate().Error())
		return
	}
	setCondition(ap, shcrv1alpha1.ConditionScopeNarrowed, metav1.ConditionFalse, shcrv1alpha1.ReasonWithinScope,
		fmt.Sprintf("every grant is within %s v%d", governing.Spec.AgreementID, governing.Spec.Version))
}

// clearGrants empties the effective grants of a policy that grants nothing.
func clearGrants(ap *shcrv1alpha1.AccessPolicy) {
	ap.Status.AgreementVersion = 0
	ap.Status.EffectiveGrants = nil
	ap.Status.DroppedCategories = nil
}

// summarise sets Ready from InForce, and observedGeneration when the
// reconcile succeeded.
func summarise(ap *shcrv1alpha1.AccessPolicy, reconcileErr error) {
	if conditions.Summarise(&ap.Status.Conditions, ap.Generation, []string{shcrv1alpha1.ConditionInForce}, reconcileErr,
		fmt.Sprintf("in force under %s v%d", ap.Spec.AgreementID, ap.Status.AgreementVersion)) {
		ap.Status.ObservedGeneration = ap.Generation
	}
}

// patchStatus sets Ready from InForce and writes status once, only when it
// changed (conditions.PatchStatus).
func (r *Reconciler) patchStatus(ctx context.Context, base, ap *shcrv1alpha1.AccessPolicy, reconcileErr error) error {
	summarise(ap, reconcileErr)
	return conditions.PatchStatus(ctx, r.Client, r.Recorder, policyStatus, base, ap)
}

// policyStatus is how conditions.PatchStatus reads an AccessPolicy.
var policyStatus = conditions.Status[*shcrv1alpha1.AccessPolicy]{
	Kind:       "AccessPolicy",
	Of:         func(o *shcrv1alpha1.AccessPolicy) any { return o.Status },
	Conditions: func(o *shcrv1alpha1.AccessPolicy) []metav1.Condition { return o.Status.Conditions },
}
