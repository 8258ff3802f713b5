/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// dataClaim creates the claim the StatefulSet controller would create for
// the record service's first pod (envtest runs no controllers).
func dataClaim(t *testing.T, region string) *corev1.PersistentVolumeClaim {
	t.Helper()
	return firstReplicaClaim(t, region, specs.RecordServiceDataVolume+"-"+specs.RecordServiceName+"-0", specs.ComponentRecordService)
}

// firstReplicaClaim creates a claim of a StatefulSet's first replica, named
// and labelled as the operator's claim templates make them.
func firstReplicaClaim(t *testing.T, region, name, component string) *corev1.PersistentVolumeClaim {
	t.Helper()
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: shcrv1alpha1.NamespaceFor(region),
			Name:      name,
			Labels: map[string]string{
				specs.LabelManagedBy:     specs.ManagedBy,
				specs.LabelComponent:     component,
				shcrv1alpha1.LabelRegion: region,
			},
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("10Gi"),
			}},
		},
	}
	if err := k8sClient.Create(suiteCtx, claim); err != nil {
		t.Fatal(err)
	}
	return claim
}

func waitGone(t *testing.T, obj client.Object) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%T %s to be gone", obj, obj.GetName()), func() (bool, string) {
		err := k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(obj), obj)
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

func TestDeleteWithRetainKeepsNamespaceAndDataAndRecreationAdoptsThem(t *testing.T) {
	region := readyRegion(t, "retain")
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	claim := dataClaim(t, region.Name)

	if err := k8sClient.Delete(suiteCtx, region); err != nil {
		t.Fatal(err)
	}
	waitGone(t, &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: region.Name}})

	namespace := &corev1.Namespace{}
	mustGet(t, client.ObjectKey{Name: ns}, namespace)
	if !namespace.DeletionTimestamp.IsZero() {
		t.Fatalf("Retain must not delete the namespace")
	}
	if len(namespace.OwnerReferences) != 0 {
		t.Errorf("a retained namespace must have no owner (the garbage collector would delete it), got %v", namespace.OwnerReferences)
	}
	if namespace.Labels[shcrv1alpha1.LabelRetained] != "true" || namespace.Annotations[shcrv1alpha1.AnnotationRetainedAt] == "" {
		t.Errorf("the namespace is not marked retained: labels %v annotations %v", namespace.Labels, namespace.Annotations)
	}
	mustGet(t, client.ObjectKeyFromObject(claim), claim)
	if !claim.DeletionTimestamp.IsZero() || claim.Labels[shcrv1alpha1.LabelRetained] != "true" {
		t.Errorf("the data claim must be kept and marked retained, got labels %v deleting=%v", claim.Labels, claim.DeletionTimestamp)
	}
	waitGone(t, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: specs.RecordServiceName}})
	waitGone(t, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: specs.GatewayName}})

	// The same region, created again, adopts the namespace and its data.
	again := createRegion(t, newRegion("retain"))
	waitFor(t, "a NamespaceAdopted event on the new region", func() (bool, string) {
		events := &eventsv1.EventList{}
		if err := k8sClient.List(suiteCtx, events); err != nil {
			return false, err.Error()
		}
		for _, e := range events.Items {
			if e.Regarding.UID == again.UID && e.Reason == shcrv1alpha1.ReasonNamespaceAdopted {
				return true, ""
			}
		}
		return false, "no such event"
	})
	waitFor(t, "the namespace ready", conditionIs(t, "retain", shcrv1alpha1.ConditionNamespaceReady, metav1.ConditionTrue, ""))
	waitFor(t, "the new region owning the namespace, retained marks cleared", func() (bool, string) {
		mustGet(t, client.ObjectKey{Name: ns}, namespace)
		owner := metav1.GetControllerOf(namespace)
		_, marked := namespace.Labels[shcrv1alpha1.LabelRetained]
		return owner != nil && owner.UID == again.UID && !marked, fmt.Sprintf("owner %v labels %v", owner, namespace.Labels)
	})
	waitFor(t, "the claim's retained mark cleared", func() (bool, string) {
		mustGet(t, client.ObjectKeyFromObject(claim), claim)
		_, marked := claim.Labels[shcrv1alpha1.LabelRetained]
		return !marked, fmt.Sprint(claim.Labels)
	})
	if claim.DeletionTimestamp != nil {
		t.Errorf("the adopted claim is being deleted")
	}
	markWorkloadsAvailable(t, "retain")
	waitFor(t, "the re-created region Ready", conditionIs(t, "retain", shcrv1alpha1.ConditionReady, metav1.ConditionTrue, ""))
}

func TestDeleteWithDeleteRemovesTheNamespace(t *testing.T) {
	region := readyRegion(t, "purge", func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.DeletionPolicy = shcrv1alpha1.DeletionPolicyDelete
	})
	if err := k8sClient.Delete(suiteCtx, region); err != nil {
		t.Fatal(err)
	}
	waitGone(t, &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: region.Name}})
	// envtest runs no namespace controller, so the namespace stays
	// Terminating; the e2e suite sees it go.
	waitFor(t, "the namespace being deleted", func() (bool, string) {
		namespace := &corev1.Namespace{}
		err := k8sClient.Get(suiteCtx, client.ObjectKey{Name: shcrv1alpha1.NamespaceFor(region.Name)}, namespace)
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		return err == nil && !namespace.DeletionTimestamp.IsZero(), fmt.Sprint(err)
	})
}

// A region re-created while its old namespace is still terminating waits,
// and says why.
func TestRegionWaitsForATerminatingNamespace(t *testing.T) {
	region := readyRegion(t, "phoenix", func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.DeletionPolicy = shcrv1alpha1.DeletionPolicyDelete
	})
	if err := k8sClient.Delete(suiteCtx, region); err != nil {
		t.Fatal(err)
	}
	waitGone(t, &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: region.Name}})
	createRegion(t, newRegion("phoenix"))
	waitFor(t, "NamespaceTerminating", conditionIs(t, "phoenix", shcrv1alpha1.ConditionNamespaceReady,
		metav1.ConditionFalse, shcrv1alpha1.ReasonNamespaceTerminating))
	waitFor(t, "Reconciling=True while waiting", conditionIs(t, "phoenix", shcrv1alpha1.ConditionReconciling,
		metav1.ConditionTrue, shcrv1alpha1.ReasonProgressing))
}
