/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package kube

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// copyCountingReader serves Gets of a few objects as the manager's cache
// does: a deep copy unless the caller asks for none, which it counts.
type copyCountingReader struct {
	client.Reader
	objects map[string]client.Object
	copies  int
}

func (r *copyCountingReader) Get(_ context.Context, key client.ObjectKey, out client.Object, opts ...client.GetOption) error {
	obj, ok := r.objects[reflect.TypeOf(out).String()+"/"+key.Name]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{}, key.Name)
	}
	o := client.GetOptions{}
	o.ApplyOptions(opts)
	if o.UnsafeDisableDeepCopy == nil || !*o.UnsafeDisableDeepCopy {
		r.copies++
		obj = obj.DeepCopyObject().(client.Object)
	}
	reflect.ValueOf(out).Elem().Set(reflect.ValueOf(obj).Elem())
	return nil
}

// RegionOf reads the namespace and its region without copying either out
// of the cache (a large region's status names every organisation, and
// every reconcile asks), and still tells a region's namespace from every
// look-alike.
func TestRegionOfCopiesNothing(t *testing.T) {
	const region = "north"
	ns := shcrv1alpha1.NamespaceFor(region)
	regionObj := &shcrv1alpha1.ShCRRegion{
		ObjectMeta: metav1.ObjectMeta{Name: region, UID: "region-uid"},
		Status:     shcrv1alpha1.ShCRRegionStatus{Namespace: ns},
	}
	owner := metav1.OwnerReference{APIVersion: shcrv1alpha1.GroupVersion.String(), Kind: "ShCRRegion", Name: region,
		UID: "region-uid", Controller: ptr.To(true)}
	namespace := func(edit func(*corev1.Namespace)) *corev1.Namespace {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name:            ns,
			Labels:          map[string]string{shcrv1alpha1.LabelRegion: region, specs.LabelManagedBy: specs.ManagedBy},
			OwnerReferences: []metav1.OwnerReference{owner},
		}}
		if edit != nil {
			edit(n)
		}
		return n
	}
	for _, tc := range []struct {
		name   string
		ns     *corev1.Namespace
		region func(*shcrv1alpha1.ShCRRegion)
		want   error
	}{
		{name: "owned", ns: namespace(nil)},
		{name: "no region label", ns: namespace(func(n *corev1.Namespace) { delete(n.Labels, shcrv1alpha1.LabelRegion) }), want: ErrNotRegionNamespace},
		{name: "not managed", ns: namespace(func(n *corev1.Namespace) { delete(n.Labels, specs.LabelManagedBy) }), want: ErrNotRegionNamespace},
		{name: "retained", ns: namespace(func(n *corev1.Namespace) { n.Labels[shcrv1alpha1.LabelRetained] = "true" }), want: ErrNotRegionNamespace},
		{name: "no owner", ns: namespace(func(n *corev1.Namespace) { n.OwnerReferences = nil }), want: ErrNotRegionNamespace},
		{name: "owner of another kind", ns: namespace(func(n *corev1.Namespace) { n.OwnerReferences[0].Kind = "MemberOrganisation" }), want: ErrNotRegionNamespace},
		{name: "owner of another group", ns: namespace(func(n *corev1.Namespace) { n.OwnerReferences[0].APIVersion = "example.org/v1" }), want: ErrNotRegionNamespace},
		{name: "earlier region's UID", ns: namespace(func(n *corev1.Namespace) { n.OwnerReferences[0].UID = "old" }), want: ErrNotRegionNamespace},
		{name: "region gone", ns: namespace(nil), region: func(r *shcrv1alpha1.ShCRRegion) { r.Name = "other" }, want: ErrNotRegionNamespace},
		{name: "not yet recorded", ns: namespace(nil), region: func(r *shcrv1alpha1.ShCRRegion) { r.Status.Namespace = "" }, want: ErrNamespaceNotRecorded},
		{name: "another namespace recorded", ns: namespace(nil), region: func(r *shcrv1alpha1.ShCRRegion) { r.Status.Namespace = "shcr-other" }, want: ErrNotRegionNamespace},
		{name: "namespace gone", ns: nil, want: ErrNotRegionNamespace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := regionObj.DeepCopy()
			if tc.region != nil {
				tc.region(r)
			}
			c := &copyCountingReader{objects: map[string]client.Object{
				fmt.Sprintf("%T/%s", r, r.Name): r,
			}}
			if tc.ns != nil {
				c.objects[fmt.Sprintf("%T/%s", tc.ns, tc.ns.Name)] = tc.ns
			}
			got, err := RegionOf(context.Background(), c, ns)
			switch {
			case tc.want == nil && (err != nil || got != region):
				t.Errorf("RegionOf = %q, %v; want %q", got, err, region)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("RegionOf = %q, %v; want %v", got, err, tc.want)
			}
			if c.copies != 0 {
				t.Errorf("RegionOf copied %d objects out of the cache", c.copies)
			}
		})
	}
}
