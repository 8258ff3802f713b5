/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package phases

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/metrics"
)

// Reconcile runs the kind's reconcile only on an object that exists and is
// not being deleted, clears the Stalled metric of one that is gone, and
// always writes status once after a reconcile, from the object as read,
// with the reconcile's error.
func TestReconcileReadsRunsAndPatchesOnce(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := shcrv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	deleting := metav1.NewTime(time.Now())
	objects := []client.Object{
		&shcrv1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "shcr-r", Name: "live", Generation: 2}},
		&shcrv1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "shcr-r", Name: "deleting",
			DeletionTimestamp: &deleting, Finalizers: []string{"test/keep"}}},
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objects...).Build()
	failed := errors.New("phase failed")
	cases := []struct {
		name      string
		err       error
		reconcile bool
	}{
		{"gone", nil, false},
		{"deleting", nil, false},
		{"live", nil, true},
		{"live", failed, true},
	}
	for _, tc := range cases {
		req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "shcr-r", Name: tc.name}}
		metrics.SetStalled("AccessPolicy", "shcr-r", tc.name, true)
		var reconciled, patched int
		_, err := Reconcile(context.Background(), c, "AccessPolicy", req, &shcrv1alpha1.AccessPolicy{},
			func(_ context.Context, ap *shcrv1alpha1.AccessPolicy) (ctrl.Result, error) {
				reconciled++
				ap.Status.RolesDisplay = "changed"
				return ctrl.Result{}, tc.err
			},
			func(_ context.Context, base, ap *shcrv1alpha1.AccessPolicy, reconcileErr error) error {
				patched++
				if base.Name != tc.name || base.Status.RolesDisplay != "" || ap.Status.RolesDisplay != "changed" {
					t.Errorf("%s: patch of %q from %q, want the object as read and as reconciled", tc.name, ap.Status.RolesDisplay, base.Status.RolesDisplay)
				}
				if !errors.Is(reconcileErr, tc.err) {
					t.Errorf("%s: patch given %v, want %v", tc.name, reconcileErr, tc.err)
				}
				return nil
			})
		want := 0
		if tc.reconcile {
			want = 1
		}
		if reconciled != want || patched != want {
			t.Errorf("%s: reconciled %d and patched %d times, want %d", tc.name, reconciled, patched, want)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: Reconcile returned %v, want %v", tc.name, err, tc.err)
		}
		gauge := testutil.ToFloat64(metrics.Stalled.WithLabelValues("AccessPolicy", "shcr-r", tc.name))
		if tc.name == "gone" && gauge != 0 {
			t.Errorf("gone: Stalled metric %v kept", gauge)
		}
		metrics.SetStalled("AccessPolicy", "shcr-r", tc.name, false)
	}
}
