/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package kube

import (
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
)

// A typed read, list or watch of a metadata-only kind through the cache is
// refused with an error naming the kind (it would start a full informer of
// every such object); its metadata, and every other kind, pass.
func TestGuardedCacheRefusesTypedMetadataOnlyKinds(t *testing.T) {
	g := guardedCache{}
	refused := []runtime.Object{
		&corev1.ServiceAccount{}, &corev1.ServiceAccountList{}, &corev1.Service{}, &corev1.ServiceList{},
		&networkingv1.NetworkPolicy{}, &networkingv1.NetworkPolicyList{},
	}
	for _, obj := range refused {
		var e *ErrMetadataOnly
		if err := g.check(obj); !errors.As(err, &e) {
			t.Errorf("%T: %v, want ErrMetadataOnly", obj, err)
		}
	}
	allowed := []runtime.Object{
		&metav1.PartialObjectMetadata{}, &metav1.PartialObjectMetadataList{}, ForCache(&corev1.Service{}),
		&corev1.ConfigMap{}, &appsv1.Deployment{}, &corev1.Namespace{}, &appsv1.StatefulSet{},
		&shcrv1alpha1.MemberOrganisation{}, &shcrv1alpha1.ShCRRegionList{},
	}
	for _, obj := range allowed {
		if err := g.check(obj); err != nil {
			t.Errorf("%T: %v", obj, err)
		}
	}
	for _, obj := range MetadataOnlyKinds() {
		if ShapeOf(kindOf(obj)) != MetadataOnly {
			t.Errorf("%T is listed as metadata only but not shaped so", obj)
		}
		if _, ok := ForCache(obj).(*metav1.PartialObjectMetadata); !ok {
			t.Errorf("ForCache(%T) is not metadata", obj)
		}
	}
	if _, ok := ForCache(&appsv1.Deployment{}).(*appsv1.Deployment); !ok {
		t.Error("ForCache changed a Deployment, which the cache holds typed")
	}
}

// The cache drops a Deployment's pod template and every ConfigMap's data
// but the agreement ledger's, and keeps what the operator reads.
func TestTrimForCache(t *testing.T) {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "c", Annotations: map[string]string{"a": "b"}},
		Spec: appsv1.DeploymentSpec{Replicas: new(int32), Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "connector", Image: "x"}}},
		}},
		Status: appsv1.DeploymentStatus{AvailableReplicas: 1},
	}
	out, _ := trimForCache(d)
	got := out.(*appsv1.Deployment)
	if len(got.Spec.Template.Spec.Containers) != 0 || got.Spec.Replicas == nil || got.Status.AvailableReplicas != 1 || got.Annotations["a"] != "b" {
		t.Errorf("trimmed Deployment %+v", got)
	}
	for name, keep := range map[string]bool{governance.LedgerName: true, "connector-y1g01": false, "policy-bundle": false} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": "v"}, BinaryData: map[string][]byte{"b": {1}}}
		out, _ := trimForCache(cm)
		got := out.(*corev1.ConfigMap)
		if (got.Data != nil) != keep || (got.BinaryData != nil) != keep {
			t.Errorf("ConfigMap %s: data kept %v, want %v", name, got.Data != nil, keep)
		}
	}
}
