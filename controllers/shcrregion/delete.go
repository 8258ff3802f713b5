/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/apply"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// reconcileDelete tears a region down according to its deletionPolicy.
// Retain keeps the namespace, the record service's volume claims and the
// gateway's audit volume claims, frees
// them of any owner so nothing garbage-collects them, and removes the
// workloads. Delete removes the namespace with everything in it.
func (r *Reconciler) reconcileDelete(ctx context.Context, region *shcrv1alpha1.ShCRRegion) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(region, shcrv1alpha1.RegionFinalizer) {
		return ctrl.Result{}, nil
	}
	log := ctrl.LoggerFrom(ctx)
	ns := shcrv1alpha1.NamespaceFor(region.Name)

	switch region.Spec.DeletionPolicy {
	case shcrv1alpha1.DeletionPolicyDelete:
		err := r.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
			client.PropagationPolicy(metav1.DeletePropagationBackground))
		if client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("deleting namespace %s: %w", ns, err)
		}
		r.event(region, corev1.EventTypeNormal, shcrv1alpha1.ReasonDeleted,
			"deletionPolicy is Delete: namespace %s and its data are being deleted", ns)
		log.Info("Region deleted with its data", "namespace", ns)
	default:
		if err := r.retain(ctx, region); err != nil {
			return ctrl.Result{}, err
		}
		r.event(region, corev1.EventTypeNormal, shcrv1alpha1.ReasonRetained,
			"deletionPolicy is Retain: namespace %s, the record service's volumes and the audit volumes are kept", ns)
		log.Info("Region deleted; namespace and volumes retained", "namespace", ns)
	}

	before := region.DeepCopy()
	controllerutil.RemoveFinalizer(region, shcrv1alpha1.RegionFinalizer)
	return ctrl.Result{}, client.IgnoreNotFound(r.Client.Patch(ctx, region, client.MergeFrom(before)))
}

// retain frees the namespace and the volume claims from the region and marks
// them retained, then removes the workloads that used them.
func (r *Reconciler) retain(ctx context.Context, region *shcrv1alpha1.ShCRRegion) error {
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	now := metav1.Now()

	live := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: ns}, live); err != nil {
		// No namespace (never created, or removed by hand): nothing to keep.
		return client.IgnoreNotFound(err)
	}
	if _, err := r.applier.Apply(ctx, specs.RetainedNamespace(region, now)); apply.IsNotOwned(err) {
		// The namespace was never the region's: nothing of the region's to keep.
		return nil
	} else if err != nil {
		return fmt.Errorf("retaining namespace %s: %w", ns, err)
	}

	// The record service's data and the gateway's audit trail.
	kept, err := labels.NewRequirement(specs.LabelComponent, selection.In, []string{specs.ComponentRecordService, specs.ComponentGateway})
	if err != nil {
		return err
	}
	claims := kube.MetadataList(&corev1.PersistentVolumeClaimList{}) // cached as metadata only
	if err := r.Client.List(ctx, claims, client.InNamespace(ns),
		client.MatchingLabelsSelector{Selector: labels.NewSelector().Add(*kept)}); err != nil {
		return err
	}
	for i := range claims.Items {
		claim := &claims.Items[i]
		before := claim.DeepCopy()
		if claim.Labels == nil {
			claim.Labels = map[string]string{}
		}
		if claim.Annotations == nil {
			claim.Annotations = map[string]string{}
		}
		claim.Labels[shcrv1alpha1.LabelRetained] = "true"
		claim.Annotations[shcrv1alpha1.AnnotationRetainedAt] = now.UTC().Format(metav1.RFC3339Micro)
		claim.OwnerReferences = nil
		if err := r.Client.Patch(ctx, claim, client.MergeFrom(before)); err != nil {
			return fmt.Errorf("retaining claim %s/%s: %w", ns, claim.Name, err)
		}
	}

	for _, workload := range []client.Object{
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: specs.RecordServiceName}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: specs.GatewayName}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: specs.GatewayName}},
	} {
		if err := r.Client.Delete(ctx, workload, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("removing %T %s: %w", workload, workload.GetName(), err)
		}
	}
	return nil
}

func (r *Reconciler) event(region *shcrv1alpha1.ShCRRegion, eventType, reason, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(region, nil, eventType, reason, reason, note, args...)
	}
}
