/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package conditions

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/metrics"
)

// Status is how PatchStatus reads one kind: its name (for metrics and
// errors), its status, and its conditions.
type Status[T client.Object] struct {
	Kind       string
	Of         func(T) any
	Conditions func(T) []metav1.Condition
	// OptimisticLock sends the resourceVersion read with the patch, so a
	// status computed from a stale copy is refused (and the reconcile
	// retried) instead of replacing what a later write recorded: for a
	// status whose lists carry work under way (a region's purges).
	OptimisticLock bool
}

// PatchStatus is every reconciler's deferred status write: it sets the
// kind's Stalled metric, writes obj's status once, only when it differs from
// base's (one patch, computed against base), and records an Event for each
// condition transition (RecordTransitions). An object deleted meanwhile is
// not an error.
func PatchStatus[T client.Object](ctx context.Context, c client.Client, rec events.EventRecorder, s Status[T], base, obj T) error {
	metrics.SetStalled(s.Kind, obj.GetNamespace(), obj.GetName(),
		meta.IsStatusConditionTrue(s.Conditions(obj), shcrv1alpha1.ConditionStalled))
	if equality.Semantic.DeepEqual(s.Of(base), s.Of(obj)) {
		return nil
	}
	patch := client.MergeFrom(base)
	if s.OptimisticLock {
		patch = client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
	}
	if err := patchMetadataAnswer(ctx, c, obj, patch); err != nil {
		return fmt.Errorf("patching the status of %s %s: %w", s.Kind, client.ObjectKeyFromObject(obj), err)
	}
	RecordTransitions(rec, obj, s.Conditions(base), s.Conditions(obj))
	return nil
}

// patchMetadataAnswer sends patch to obj's status as the metadata client
// does, so the API server answers with the object's metadata only, and
// gives obj the resourceVersion written. Nothing else of the answer is
// read: encoding the whole object for the answer, and decoding it, was a
// large part of what each status write cost at 5,000 organisations
// (docs/benchmarks.md). An object deleted meanwhile is not an error.
func patchMetadataAnswer(ctx context.Context, c client.Client, obj client.Object, patch client.Patch) error {
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		return err
	}
	data, err := patch.Data(obj)
	if err != nil {
		return err
	}
	written := &metav1.PartialObjectMetadata{}
	written.SetGroupVersionKind(gvk)
	written.SetNamespace(obj.GetNamespace())
	written.SetName(obj.GetName())
	if err := c.Status().Patch(ctx, written, client.RawPatch(patch.Type(), data)); err != nil {
		return client.IgnoreNotFound(err)
	}
	obj.SetResourceVersion(written.GetResourceVersion())
	return nil
}
