/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package conditions

import (
	"context"
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// deploymentReader answers Gets of one Deployment: as metadata (the cache)
// or in full (the API server), counting the reads in full.
type deploymentReader struct {
	client.Reader
	d     *appsv1.Deployment
	reads int
}

func (r *deploymentReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if r.d == nil || key != client.ObjectKeyFromObject(r.d) {
		return apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "deployments"}, key.Name)
	}
	switch o := obj.(type) {
	case *metav1.PartialObjectMetadata:
		o.ObjectMeta = *r.d.ObjectMeta.DeepCopy()
	case *appsv1.Deployment:
		r.reads++
		r.d.DeepCopyInto(o)
	default:
		return fmt.Errorf("unexpected %T", obj)
	}
	return nil
}

// Availability reads the same as DeploymentAvailability of the whole
// Deployment in every state of a rollout, reads the Deployment in full
// once per resourceVersion the cache shows and never again at that
// version, and answers "not yet in the cache" for a Deployment the cache
// or the API server does not have.
func TestDeploymentsReadInFullOnlyWhenChanged(t *testing.T) {
	ctx := context.Background()
	one, two := int32(1), int32(2)
	cond := func(typ appsv1.DeploymentConditionType, status corev1.ConditionStatus) appsv1.DeploymentCondition {
		return appsv1.DeploymentCondition{Type: typ, Status: status, Reason: "R", Message: "progressed"}
	}
	cache, api := &deploymentReader{}, &deploymentReader{}
	d := &Deployments{Cache: cache, API: api}
	key := client.ObjectKey{Namespace: "shcr-r", Name: "connector-y1g01"}
	rv := 0
	for _, replicas := range []*int32{nil, &one, &two} {
		for _, generation := range []int64{1, 2} {
			for _, counts := range [][2]int32{{0, 0}, {1, 0}, {1, 1}, {2, 2}} {
				for _, conds := range [][]appsv1.DeploymentCondition{
					nil,
					{cond(appsv1.DeploymentProgressing, corev1.ConditionTrue)},
					{cond(appsv1.DeploymentProgressing, corev1.ConditionTrue), cond(appsv1.DeploymentAvailable, corev1.ConditionFalse)},
					{cond(appsv1.DeploymentAvailable, corev1.ConditionTrue), cond(appsv1.DeploymentProgressing, corev1.ConditionTrue)},
					{cond(appsv1.DeploymentReplicaFailure, corev1.ConditionTrue), cond(appsv1.DeploymentAvailable, corev1.ConditionTrue)},
				} {
					rv++
					whole := &appsv1.Deployment{
						ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace, Generation: generation, ResourceVersion: fmt.Sprint(rv)},
						Spec:       appsv1.DeploymentSpec{Replicas: replicas},
						Status:     appsv1.DeploymentStatus{ObservedGeneration: 1, UpdatedReplicas: counts[0], AvailableReplicas: counts[1], Conditions: conds},
					}
					cache.d, api.d = whole, whole
					ws, wr, wm := DeploymentAvailability(whole)
					before := api.reads
					for range 3 {
						s, r, m, err := d.Availability(ctx, key)
						if err != nil || s != ws || r != wr || m != wm {
							t.Fatalf("replicas %v, generation %d, counts %v, conditions %v: %s %s %q %v, want %s %s %q",
								replicas, generation, counts, conds, s, r, m, err, ws, wr, wm)
						}
					}
					if api.reads != before+1 {
						t.Fatalf("version %d: read in full %d times for three reconciles, want once", rv, api.reads-before)
					}
				}
			}
		}
	}
	if d.Remembered() != 1 {
		t.Errorf("%d Deployments remembered, want 1", d.Remembered())
	}

	// The cache is behind the API server: the later version read is
	// remembered, and read again only once the cache shows a version
	// other than it.
	rv++
	api.d = cache.d.DeepCopy()
	api.d.ResourceVersion = fmt.Sprint(rv)
	api.d.Status.AvailableReplicas = 0
	cache.d.ResourceVersion = fmt.Sprint(rv - 2) // neither the version remembered nor the one read
	before := api.reads
	if s, _, _, _ := d.Availability(ctx, key); s != metav1.ConditionFalse {
		t.Errorf("the version read from the API server was not the one reported: %s", s)
	}
	cache.d = api.d
	if _, _, _, err := d.Availability(ctx, key); err != nil || api.reads != before+1 {
		t.Errorf("the cache caught up with the version read: %d more reads, want 1 (%v)", api.reads-before, err)
	}

	// Gone from the API server but not yet from the cache, then from both.
	cache.d.ResourceVersion = fmt.Sprint(rv + 1)
	api.d = nil
	if s, r, m, err := d.Availability(ctx, key); err != nil || s != metav1.ConditionFalse || m != "the Deployment is not yet in the cache" {
		t.Errorf("a deleted Deployment: %s %s %q %v", s, r, m, err)
	}
	if d.Remembered() != 0 {
		t.Errorf("a deleted Deployment is still remembered")
	}
	cache.d = nil
	before = api.reads
	if s, _, m, err := d.Availability(ctx, key); err != nil || s != metav1.ConditionFalse || m != "the Deployment is not yet in the cache" || api.reads != before {
		t.Errorf("a Deployment the cache does not hold: %s %q %v, %d reads", s, m, err, api.reads-before)
	}
}

// A Deployment the operator's apply just created (no one has written its
// status: no managedFields entry of the status subresource) is known to be
// rolling out at the version written, without a read; one whose status
// someone wrote, or another kind, is not, and is read as before.
func TestDeploymentsKnowWhatTheyJustCreated(t *testing.T) {
	ctx := context.Background()
	deployment := appsv1.SchemeGroupVersion.WithKind("Deployment")
	key := client.ObjectKey{Namespace: "shcr-r", Name: "connector-y1g01"}
	answer := func(rv string, managers ...metav1.ManagedFieldsEntry) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
			ResourceVersion: rv, Generation: 1, ManagedFields: managers}}
	}
	applied := metav1.ManagedFieldsEntry{Manager: "shcr-operator", Operation: metav1.ManagedFieldsOperationApply}
	statusWriter := metav1.ManagedFieldsEntry{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status"}
	for _, tc := range []struct {
		name  string
		kind  schema.GroupVersionKind
		a     *metav1.PartialObjectMetadata
		known bool
	}{
		{"created by the apply", deployment, answer("7", applied), true},
		{"created by a create", deployment, answer("7", metav1.ManagedFieldsEntry{Manager: "shcr-operator", Operation: metav1.ManagedFieldsOperationUpdate}), true},
		{"its status written by the Deployment controller", deployment, answer("7", applied, statusWriter), false},
		{"no managedFields in the answer", deployment, answer("7"), false},
		{"another kind", appsv1.SchemeGroupVersion.WithKind("StatefulSet"), answer("7", applied), false},
		{"no resourceVersion", deployment, answer("", applied), false},
	} {
		whole := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, ResourceVersion: "7", Generation: 1},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, UpdatedReplicas: 1, AvailableReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}}}
		cache, api := &deploymentReader{d: whole}, &deploymentReader{d: whole}
		d := &Deployments{Cache: cache, API: api}
		d.Written(tc.kind, tc.a)
		status, reason, msg, err := d.Availability(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if tc.known {
			// What was just created is rolling out: the status the API
			// server holds at that version is empty (the reader's is not,
			// which shows it was not read).
			if api.reads != 0 || status != metav1.ConditionFalse || msg != "the Deployment controller has not yet seen the latest spec" {
				t.Errorf("%s: %d reads, %s %s %q", tc.name, api.reads, status, reason, msg)
			}
		} else if api.reads != 1 || status != metav1.ConditionTrue {
			t.Errorf("%s: %d reads, %s %s %q, want one read and the Deployment's own availability", tc.name, api.reads, status, reason, msg)
		}
	}
}

// A Deployment the Applier read in full (Read) is not read again by
// Availability at the version read, and its availability is the one its
// status gives, in every state of a rollout. Another kind, an object
// without a resourceVersion, or a cache that shows another version than
// the one read, is read as before.
func TestDeploymentsKnowWhatTheApplierRead(t *testing.T) {
	ctx := context.Background()
	deployment := appsv1.SchemeGroupVersion.WithKind("Deployment")
	key := client.ObjectKey{Namespace: "shcr-r", Name: "connector-y1g01"}
	one, two := int32(1), int32(2)
	rv := 0
	for _, replicas := range []*int32{nil, &one, &two} {
		for _, counts := range [][2]int32{{0, 0}, {1, 0}, {1, 1}, {2, 2}} {
			for _, available := range []corev1.ConditionStatus{"", corev1.ConditionFalse, corev1.ConditionTrue} {
				rv++
				whole := &appsv1.Deployment{
					ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, ResourceVersion: fmt.Sprint(rv), Generation: 1},
					Spec:       appsv1.DeploymentSpec{Replicas: replicas},
					Status:     appsv1.DeploymentStatus{ObservedGeneration: 1, UpdatedReplicas: counts[0], AvailableReplicas: counts[1]},
				}
				if available != "" {
					whole.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: available}}
				}
				read, err := runtime.DefaultUnstructuredConverter.ToUnstructured(whole)
				if err != nil {
					t.Fatal(err)
				}
				cache, api := &deploymentReader{d: whole}, &deploymentReader{d: whole}
				d := &Deployments{Cache: cache, API: api}
				d.Read(deployment, &unstructured.Unstructured{Object: read})
				ws, wr, wm := DeploymentAvailability(whole)
				if s, r, m, err := d.Availability(ctx, key); err != nil || api.reads != 0 || s != ws || r != wr || m != wm {
					t.Errorf("replicas %v, counts %v, Available %q: %d reads, %s %s %q %v; want none, and %s %s %q",
						replicas, counts, available, api.reads, s, r, m, err, ws, wr, wm)
				}
			}
		}
	}

	whole := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, ResourceVersion: "7", Generation: 1}}
	for _, tc := range []struct {
		name    string
		kind    schema.GroupVersionKind
		edit    func(u *unstructured.Unstructured)
		cacheRV string
	}{
		{"another kind", appsv1.SchemeGroupVersion.WithKind("StatefulSet"), func(*unstructured.Unstructured) {}, "7"},
		{"no resourceVersion", deployment, func(u *unstructured.Unstructured) { u.SetResourceVersion("") }, "7"},
		{"the cache at another version", deployment, func(*unstructured.Unstructured) {}, "8"},
	} {
		read, err := runtime.DefaultUnstructuredConverter.ToUnstructured(whole)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: read}
		tc.edit(u)
		cached := whole.DeepCopy()
		cached.ResourceVersion = tc.cacheRV
		cache, api := &deploymentReader{d: cached}, &deploymentReader{d: cached}
		d := &Deployments{Cache: cache, API: api}
		d.Read(tc.kind, u)
		if _, _, _, err := d.Availability(ctx, key); err != nil || api.reads != 1 {
			t.Errorf("%s: %d reads (%v), want 1", tc.name, api.reads, err)
		}
	}
}
