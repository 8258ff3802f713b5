/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package resilience

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/testenv"
	"github.com/shcr-io/shcr-operator/test/writes"
)

// A region deleted with deletionPolicy Retain while the operator is down
// waits for it (its finalizer holds it), and the operator, started again,
// keeps the namespace and the record service's data: it frees both of every
// owner, so that no garbage collector can take them, marks them retained,
// and only then lets the region go. envtest runs no garbage collector and no
// StatefulSet controller: the test creates the data claim as that
// controller would and asserts what the operator controls.
func TestRegionDeletedWithRetainWhileTheOperatorIsDownKeepsItsData(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	k8s := c.Client
	m := startManager(t, c, &writes.Counter{})

	region := &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: "kept"}, Spec: shcrv1alpha1.ShCRRegionSpec{
		DisplayName: "Kept", DeletionPolicy: shcrv1alpha1.DeletionPolicyRetain,
	}}
	if err := k8s.Create(ctx, region); err != nil {
		t.Fatal(err)
	}
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	sts := &appsv1.StatefulSet{}
	testenv.WaitFor(t, "the record service", 30*time.Second, func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: specs.RecordServiceName}, sts)
		return err == nil, fmt.Sprint(err)
	})
	// The claim of the record service's first pod, owned by the StatefulSet
	// as claims are under a retention policy of Delete: left so, the
	// garbage collector would delete the data with the StatefulSet.
	template := sts.Spec.VolumeClaimTemplates[0]
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: template.Name + "-" + sts.Name + "-0", Labels: template.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(sts, appsv1.SchemeGroupVersion.WithKind("StatefulSet"))},
		},
		Spec: template.Spec,
	}
	if err := k8s.Create(ctx, claim); err != nil {
		t.Fatal(err)
	}

	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, region); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(region), region); err != nil || region.DeletionTimestamp.IsZero() {
		t.Fatalf("with the operator down the region must wait, held by its finalizer: err %v, finalizers %v", err, region.Finalizers)
	}

	m = startManager(t, c, &writes.Counter{})
	testenv.WaitFor(t, "the region gone", 30*time.Second, func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(region), &shcrv1alpha1.ShCRRegion{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}

	namespace := &corev1.Namespace{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, namespace); err != nil {
		t.Fatalf("Retain lost the namespace: %v", err)
	}
	checkRetained(t, namespace)
	kept := &corev1.PersistentVolumeClaim{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(claim), kept); err != nil {
		t.Fatalf("Retain lost the data claim: %v", err)
	}
	if kept.UID != claim.UID {
		t.Errorf("the data claim was replaced: uid %s, was %s", kept.UID, claim.UID)
	}
	checkRetained(t, kept)
	for _, workload := range []client.Object{
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: specs.RecordServiceName}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: specs.GatewayName}},
	} {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(workload), workload); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s must be removed with the region, got err %v", workload, workload.GetName(), err)
		}
	}
}

// checkRetained checks obj is not being deleted, has no owner a garbage
// collector could delete it with, and is marked retained.
func checkRetained(t *testing.T, obj client.Object) {
	t.Helper()
	kind := fmt.Sprintf("%T %s", obj, obj.GetName())
	if !obj.GetDeletionTimestamp().IsZero() {
		t.Errorf("%s is being deleted", kind)
	}
	if len(obj.GetOwnerReferences()) != 0 {
		t.Errorf("%s still has owners the garbage collector would delete it with: %v", kind, obj.GetOwnerReferences())
	}
	if obj.GetLabels()[shcrv1alpha1.LabelRetained] != "true" || obj.GetAnnotations()[shcrv1alpha1.AnnotationRetainedAt] == "" {
		t.Errorf("%s is not marked retained: labels %v annotations %v", kind, obj.GetLabels(), obj.GetAnnotations())
	}
}
