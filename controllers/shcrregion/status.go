/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/conditions"
)

// summarised are the conditions Ready summarises, in the order the message
// names them.
var summarised = []string{
	shcrv1alpha1.ConditionNamespaceReady,
	shcrv1alpha1.ConditionRecordServiceAvailable,
	shcrv1alpha1.ConditionGatewayAvailable,
	// A gateway without an identity provider refuses every request and
	// never passes its readiness probe on a real cluster, whatever a
	// cluster that runs no probes (kwok, envtest) reports of its workload.
	shcrv1alpha1.ConditionGatewayIdentity,
	shcrv1alpha1.ConditionPolicyCompiled,
}

func setCondition(region *shcrv1alpha1.ShCRRegion, conditionType string, status metav1.ConditionStatus, reason, message string) {
	conditions.Set(&region.Status.Conditions, region.Generation, conditionType, status, reason, message)
}

func findCondition(region *shcrv1alpha1.ShCRRegion, conditionType string) *metav1.Condition {
	return meta.FindStatusCondition(region.Status.Conditions, conditionType)
}

// markInvalid records a spec that breaks a rule the CRD schema cannot check.
func markInvalid(region *shcrv1alpha1.ShCRRegion, message string) {
	setCondition(region, shcrv1alpha1.ConditionReady, metav1.ConditionFalse, shcrv1alpha1.ReasonInvalidSpec, message)
}

func markPaused(region *shcrv1alpha1.ShCRRegion) {
	setCondition(region, shcrv1alpha1.ConditionReconciling, metav1.ConditionFalse, shcrv1alpha1.ReasonPaused,
		"spec.paused is set: the operator changes nothing until it is cleared")
}

// statefulSetAvailability says whether every desired replica of the
// current revision of what's StatefulSet is ready.
func statefulSetAvailability(sts *appsv1.StatefulSet, what string) (metav1.ConditionStatus, string, string) {
	if sts.Name == "" {
		return metav1.ConditionFalse, shcrv1alpha1.ReasonRollingOut, "the " + what + " StatefulSet is not yet in the cache"
	}
	want := int32(1)
	if sts.Spec.Replicas != nil {
		want = *sts.Spec.Replicas
	}
	s := sts.Status
	switch {
	case s.ObservedGeneration < sts.Generation:
		return metav1.ConditionFalse, shcrv1alpha1.ReasonRollingOut, "the StatefulSet controller has not yet seen the latest spec"
	case s.UpdateRevision != "" && s.CurrentRevision != s.UpdateRevision && s.UpdatedReplicas < want:
		return metav1.ConditionFalse, shcrv1alpha1.ReasonRollingOut, fmt.Sprintf("%d of %d replicas updated", s.UpdatedReplicas, want)
	case s.ReadyReplicas < want:
		return metav1.ConditionFalse, shcrv1alpha1.ReasonRollingOut, fmt.Sprintf("%d of %d replicas ready", s.ReadyReplicas, want)
	}
	return metav1.ConditionTrue, shcrv1alpha1.ReasonAvailable, fmt.Sprintf("%d of %d replicas ready", s.ReadyReplicas, want)
}

// summarise sets Ready, Reconciling and Stalled from the other conditions
// and the reconcile's outcome, and observedGeneration when it succeeded.
func summarise(region *shcrv1alpha1.ShCRRegion, reconcileErr error) {
	if region.Spec.Paused {
		return
	}
	if conditions.Summarise(&region.Status.Conditions, region.Generation, summarised, reconcileErr,
		"the namespace, record service, gateway with its identity provider and policy bundle are all in place") {
		region.Status.ObservedGeneration = region.Generation
	}
}

// patchStatus sets Ready from the other conditions and writes the region's
// status once, only if it changed (conditions.PatchStatus).
func (r *Reconciler) patchStatus(ctx context.Context, base, region *shcrv1alpha1.ShCRRegion, reconcileErr error) error {
	summarise(region, reconcileErr)
	return conditions.PatchStatus(ctx, r.Client, r.Recorder, regionStatus, base, region)
}

// regionStatus is how conditions.PatchStatus reads a ShCRRegion.
var regionStatus = conditions.Status[*shcrv1alpha1.ShCRRegion]{
	Kind: "ShCRRegion",
	// status.purges holds the Jobs under way, and a provider record is
	// deleted once a purge is seen there: never written from a stale copy.
	OptimisticLock: true,
	Of:             func(o *shcrv1alpha1.ShCRRegion) any { return o.Status },
	Conditions:     func(o *shcrv1alpha1.ShCRRegion) []metav1.Condition { return o.Status.Conditions },
}
