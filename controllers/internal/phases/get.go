/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package phases

import (
	"context"
	"errors"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/metrics"
)

// Get reads the object req names into obj, and says whether there is
// anything to reconcile: not when the object is gone (its Stalled metric,
// of kind, is then cleared) nor while it is being deleted (its children are
// owned, and garbage-collected after it).
func Get[T client.Object](ctx context.Context, c client.Reader, kind string, req ctrl.Request, obj T) (bool, error) {
	if err := c.Get(ctx, req.NamespacedName, obj); err != nil {
		if client.IgnoreNotFound(err) == nil {
			metrics.SetStalled(kind, req.Namespace, req.Name, false)
		}
		return false, client.IgnoreNotFound(err)
	}
	return obj.GetDeletionTimestamp().IsZero(), nil
}

// RegionOf returns the region whose namespace holds obj (kube.RegionOf).
// When the namespace is no region's, it calls notInRegion, which records
// that in obj's status, and returns a terminal error: the object is judged
// again only when its namespace changes (a retained namespace adopted).
func RegionOf(ctx context.Context, c client.Reader, kind string, obj client.Object, notInRegion func()) (string, error) {
	region, err := kube.RegionOf(ctx, c, obj.GetNamespace())
	if errors.Is(err, kube.ErrNotRegionNamespace) {
		notInRegion()
		return "", reconcile.TerminalError(err)
	} else if err != nil {
		return "", fmt.Errorf("reading the region of %s %s/%s: %w", kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return region, nil
}

// Reconcile is the Reconcile of a kind whose objects need nothing done when
// they are gone or being deleted: it reads the object req names into obj
// (Get), runs reconcile on it, and then writes its status once through
// patch, given the reconcile's outcome, whatever that was.
func Reconcile[T client.Object](ctx context.Context, c client.Reader, kind string, req ctrl.Request, obj T,
	reconcile func(context.Context, T) (ctrl.Result, error),
	patch func(ctx context.Context, base, obj T, reconcileErr error) error,
) (_ ctrl.Result, reterr error) {
	if live, err := Get(ctx, c, kind, req, obj); !live {
		return ctrl.Result{}, err
	}
	base := obj.DeepCopyObject().(T)
	defer func() {
		reterr = errors.Join(reterr, patch(ctx, base, obj, reterr))
	}()
	return reconcile(ctx, obj)
}
