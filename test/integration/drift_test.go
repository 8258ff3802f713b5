/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// The operator's cache holds the connector's ServiceAccount, Service,
// NetworkPolicy and state claim as metadata only, and its Deployment and ConfigMap trimmed;
// it re-applies a child only when the child's metadata shows it changed
// since the operator last wrote or checked it. A field someone edits by hand,
// in every one of the five kinds, is still put back, and so is a child whose
// applied-hash annotation was tampered with while the fields were left alone.
func TestConnectorChildrenEditedByHandArePutBack(t *testing.T) {
	s := newScenarioWithCodes(t, "drift", "Y1G01", "Y1T", "Y1C")
	key := client.ObjectKey{Namespace: s.ns, Name: "connector-" + strings.ToLower(s.gp)}
	cases := []struct {
		name string
		obj  client.Object
		// suffix follows the connector's name in the object's (its state claim's).
		suffix string
		// edit changes a field the operator sets; restored says whether
		// the operator's value is back.
		edit     func(client.Object)
		restored func(client.Object) (bool, string)
	}{
		{
			name: "Deployment image",
			obj:  &appsv1.Deployment{},
			edit: func(o client.Object) {
				o.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Image = "registry.example/not-the-connector:1"
			},
			restored: func(o client.Object) (bool, string) {
				image := o.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Image
				return !strings.Contains(image, "not-the-connector"), image
			},
		},
		{
			name: "ConfigMap configuration",
			obj:  &corev1.ConfigMap{},
			edit: func(o client.Object) {
				o.(*corev1.ConfigMap).Data[specs.ConnectorConfigKey] = `{"endpoint":"https://elsewhere.example"}`
			},
			restored: func(o client.Object) (bool, string) {
				data := o.(*corev1.ConfigMap).Data[specs.ConnectorConfigKey]
				return strings.Contains(data, s.gp) && !strings.Contains(data, "elsewhere"), data
			},
		},
		{
			name: "NetworkPolicy egress",
			obj:  &networkingv1.NetworkPolicy{},
			edit: func(o client.Object) {
				np := o.(*networkingv1.NetworkPolicy)
				np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{})
			},
			restored: func(o client.Object) (bool, string) {
				egress := o.(*networkingv1.NetworkPolicy).Spec.Egress
				return len(egress) == 1, fmt.Sprintf("%d egress rules", len(egress))
			},
		},
		{
			// Ports are a list keyed by port and protocol: a port
			// someone adds stays theirs, a target port is put back.
			name: "Service target port",
			obj:  &corev1.Service{},
			edit: func(o client.Object) {
				o.(*corev1.Service).Spec.Ports[0].TargetPort = intstr.FromInt32(9999)
			},
			restored: func(o client.Object) (bool, string) {
				port := o.(*corev1.Service).Spec.Ports[0].TargetPort
				return port.IntValue() == specs.ConnectorStatusPort, port.String()
			},
		},
		{
			name: "ServiceAccount token mount",
			obj:  &corev1.ServiceAccount{},
			edit: func(o client.Object) {
				o.(*corev1.ServiceAccount).AutomountServiceAccountToken = ptr.To(true)
			},
			restored: func(o client.Object) (bool, string) {
				mount := o.(*corev1.ServiceAccount).AutomountServiceAccountToken
				return mount != nil && !*mount, fmt.Sprint(mount)
			},
		},
		{
			// The state claim is cached as metadata only too; its spec
			// cannot change once bound, its labels can.
			name:   "PersistentVolumeClaim label",
			obj:    &corev1.PersistentVolumeClaim{},
			suffix: "-state",
			edit: func(o client.Object) {
				l := o.GetLabels()
				delete(l, specs.LabelPartOf)
				o.SetLabels(l)
			},
			restored: func(o client.Object) (bool, string) {
				return o.GetLabels()[specs.LabelPartOf] != "", fmt.Sprint(o.GetLabels())
			},
		},
		{
			name: "NetworkPolicy applied-hash annotation",
			obj:  &networkingv1.NetworkPolicy{},
			edit: func(o client.Object) {
				a := o.GetAnnotations()
				a[shcrv1alpha1.AnnotationAppliedHash] = "tampered"
				o.SetAnnotations(a)
			},
			restored: func(o client.Object) (bool, string) {
				hash := o.GetAnnotations()[shcrv1alpha1.AnnotationAppliedHash]
				return hash != "tampered", hash
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj, key := tc.obj, client.ObjectKey{Namespace: key.Namespace, Name: key.Name + tc.suffix}
			waitFor(t, "the connector's "+tc.name+" as the operator wrote it", func() (bool, string) {
				if err := k8s.Get(ctx, key, obj); err != nil {
					return false, err.Error()
				}
				return tc.restored(obj)
			})
			waitFor(t, "the edit of "+tc.name, func() (bool, string) {
				if err := k8s.Get(ctx, key, obj); err != nil {
					return false, err.Error()
				}
				tc.edit(obj)
				err := k8s.Update(ctx, obj)
				return err == nil, fmt.Sprint(err)
			})
			waitFor(t, "the operator to put back "+tc.name, func() (bool, string) {
				if err := k8s.Get(ctx, key, obj); err != nil {
					return false, err.Error()
				}
				return tc.restored(obj)
			})
		})
	}
}
