/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrl "sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// reconcileGPConnect writes the gateway's GP Connect configuration (the
// region's ASID and its admitted GP Connect practices) and the
// NetworkPolicy that lets the gateway reach those practices. A region that
// is not a GP Connect consumer has neither.
func (r *Reconciler) reconcileGPConnect(ctx context.Context, region *shcrv1alpha1.ShCRRegion) (ctrl.Result, error) {
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	if region.Spec.Gateway.GPConnect == nil {
		for _, kind := range []client.Object{&corev1.ConfigMap{}, &networkingv1.NetworkPolicy{}} {
			obj := kube.ForCache(kind) // NetworkPolicies are cached as metadata only
			obj.SetNamespace(ns)
			obj.SetName(specs.GatewayGPConnectName)
			if err := r.deleteOwned(ctx, region, obj); err != nil {
				return ctrl.Result{}, err
			}
		}
		return ctrl.Result{}, nil
	}
	members, err := r.membersIn(ctx, ns)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("listing members of region %s: %w", region.Name, err)
	}
	practices := specs.GPConnectPractices(members, region.Name)
	cm, err := specs.GatewayGPConnectConfigMap(region, practices)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.applyAll(ctx, cm, specs.GatewayGPConnectNetworkPolicy(region, members, practices)); err != nil {
		return ctrl.Result{}, r.childFailed(region, shcrv1alpha1.ConditionGatewayAvailable, err)
	}
	return ctrl.Result{}, nil
}

// deleteOwned deletes an object the region controls, if it exists.
func (r *Reconciler) deleteOwned(ctx context.Context, region *shcrv1alpha1.ShCRRegion, obj client.Object) error {
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(obj, region) {
		return nil
	}
	uid := obj.GetUID()
	if err := r.Client.Delete(ctx, obj, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}
