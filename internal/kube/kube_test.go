/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package kube

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// The cache keeps neither managedFields nor the last-applied copy of an
// object that "kubectl apply" (client-side) adds, and keeps every other
// annotation.
func TestSlimForCache(t *testing.T) {
	m := &shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{
		Name: "gp",
		Annotations: map[string]string{
			corev1.LastAppliedConfigAnnotation: `{"apiVersion":"shcr.io/v1alpha1","kind":"MemberOrganisation"}`,
			"example.org/team":                 "platform",
		},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
	}}
	out, err := slimForCache(m)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*shcrv1alpha1.MemberOrganisation)
	if got.ManagedFields != nil {
		t.Errorf("managedFields kept: %v", got.ManagedFields)
	}
	if _, ok := got.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		t.Errorf("the last-applied annotation was kept")
	}
	if got.Annotations["example.org/team"] != "platform" {
		t.Errorf("another annotation was lost: %v", got.Annotations)
	}
}
