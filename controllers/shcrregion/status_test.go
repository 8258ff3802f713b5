/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/conditions"
)

func TestSummarise(t *testing.T) {
	allTrue := func(r *shcrv1alpha1.ShCRRegion) {
		for _, c := range summarised {
			setCondition(r, c, metav1.ConditionTrue, "OK", "")
		}
	}
	cases := []struct {
		name                        string
		prepare                     func(*shcrv1alpha1.ShCRRegion)
		err                         error
		ready, reconciling, stalled metav1.ConditionStatus
		stalledReason               string
		observed                    bool
	}{
		{"all true", allTrue, nil, metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionFalse, "", true},
		{"one rolling out", func(r *shcrv1alpha1.ShCRRegion) {
			allTrue(r)
			setCondition(r, shcrv1alpha1.ConditionGatewayAvailable, metav1.ConditionFalse, shcrv1alpha1.ReasonRollingOut, "1 of 2")
		}, nil, metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse, "", true},
		{"identity missing: not Ready, nothing to wait for", func(r *shcrv1alpha1.ShCRRegion) {
			allTrue(r)
			setCondition(r, shcrv1alpha1.ConditionGatewayIdentity, metav1.ConditionFalse, shcrv1alpha1.ReasonIdentityMissing, "issuer not set")
		}, nil, metav1.ConditionFalse, metav1.ConditionFalse, metav1.ConditionFalse, "", true},
		{"nothing known yet", func(*shcrv1alpha1.ShCRRegion) {}, nil,
			metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse, "", true},
		{"transient error", allTrue, errors.New("etcd timeout"),
			metav1.ConditionFalse, metav1.ConditionTrue, metav1.ConditionFalse, "", false},
		{"conflict is terminal", func(r *shcrv1alpha1.ShCRRegion) {
			setCondition(r, shcrv1alpha1.ConditionNamespaceReady, metav1.ConditionFalse, shcrv1alpha1.ReasonNamespaceConflict, "taken")
		}, reconcile.TerminalError(errors.New("taken")),
			metav1.ConditionFalse, metav1.ConditionFalse, metav1.ConditionTrue, shcrv1alpha1.ReasonNamespaceConflict, false},
		{"invalid spec", func(r *shcrv1alpha1.ShCRRegion) { markInvalid(r, "spec.x: bad") },
			reconcile.TerminalError(errors.New("spec.x: bad")),
			metav1.ConditionFalse, metav1.ConditionFalse, metav1.ConditionTrue, shcrv1alpha1.ReasonInvalidSpec, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
			tc.prepare(r)
			summarise(r, tc.err)
			for cond, want := range map[string]metav1.ConditionStatus{
				shcrv1alpha1.ConditionReady: tc.ready, shcrv1alpha1.ConditionReconciling: tc.reconciling,
				shcrv1alpha1.ConditionStalled: tc.stalled,
			} {
				if got := meta.FindStatusCondition(r.Status.Conditions, cond); got == nil || got.Status != want {
					t.Errorf("%s = %v, want %s", cond, got, want)
				}
			}
			if s := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionStalled); tc.stalledReason != "" && s.Reason != tc.stalledReason {
				t.Errorf("Stalled reason = %s, want %s", s.Reason, tc.stalledReason)
			}
			if got := r.Status.ObservedGeneration == 3; got != tc.observed {
				t.Errorf("observedGeneration set = %v, want %v", got, tc.observed)
			}
		})
	}
}

func TestWorkloadAvailability(t *testing.T) {
	sts := func(gen, observed int64, ready int32) *appsv1.StatefulSet {
		return &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: "s", Generation: gen},
			Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2)},
			Status:     appsv1.StatefulSetStatus{ObservedGeneration: observed, ReadyReplicas: ready, UpdatedReplicas: 2},
		}
	}
	for name, tc := range map[string]struct {
		sts  *appsv1.StatefulSet
		want metav1.ConditionStatus
	}{
		"ready":         {sts(2, 2, 2), metav1.ConditionTrue},
		"not all ready": {sts(2, 2, 1), metav1.ConditionFalse},
		"spec not seen": {sts(3, 2, 2), metav1.ConditionFalse},
		"not in cache":  {&appsv1.StatefulSet{}, metav1.ConditionFalse},
	} {
		if got, _, _ := statefulSetAvailability(tc.sts, "record service"); got != tc.want {
			t.Errorf("statefulset %s: %s, want %s", name, got, tc.want)
		}
	}

	deploy := func(available corev1.ConditionStatus, updated int32) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "d", Generation: 1},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, UpdatedReplicas: updated, AvailableReplicas: 2,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: available}}},
		}
	}
	if got, _, _ := conditions.DeploymentAvailability(deploy(corev1.ConditionTrue, 2)); got != metav1.ConditionTrue {
		t.Errorf("an available, updated deployment: %s", got)
	}
	if got, _, _ := conditions.DeploymentAvailability(deploy(corev1.ConditionFalse, 2)); got != metav1.ConditionFalse {
		t.Errorf("a deployment whose Available condition is False: %s", got)
	}
	if got, _, _ := conditions.DeploymentAvailability(deploy(corev1.ConditionTrue, 1)); got != metav1.ConditionFalse {
		t.Errorf("a deployment still rolling out: %s", got)
	}
}
