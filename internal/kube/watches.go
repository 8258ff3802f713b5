/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package kube

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// RegionNamespaceChanged passes the ShCRRegion events that change whether
// its namespace is a region namespace (RegionOf): a region created or
// deleted, and a change of status.namespace, which a region records last
// when it creates or adopts its namespace. A region's other status updates
// do not pass.
var RegionNamespaceChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		before, ok1 := e.ObjectOld.(*shcrv1alpha1.ShCRRegion)
		after, ok2 := e.ObjectNew.(*shcrv1alpha1.ShCRRegion)
		return !ok1 || !ok2 || before.Status.Namespace != after.Status.Namespace || before.UID != after.UID
	},
}

// ObjectsInRegion maps a ShCRRegion to every object of one kind in its
// namespace (newList makes an empty list of that kind), so that a namespace
// a re-created region adopts, or a region that goes, has its objects judged
// again: until then they would keep saying NotInRegion, or nothing. A list
// that fails is logged, naming the namespace.
func ObjectsInRegion(c client.Reader, newList func() client.ObjectList) handler.MapFunc {
	return func(ctx context.Context, region client.Object) []reconcile.Request {
		ns := shcrv1alpha1.NamespaceFor(region.GetName())
		list := newList()
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing the objects of a region namespace to judge them again; they wait for their next event",
				"region", region.GetName(), "namespace", ns)
			return nil
		}
		return Requests(list)
	}
}

// Requests is one reconcile request per item of list.
func Requests(list client.ObjectList) []reconcile.Request {
	var out []reconcile.Request
	_ = meta.EachListItem(list, func(o runtime.Object) error {
		if obj, ok := o.(client.Object); ok {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
		}
		return nil
	})
	return out
}
