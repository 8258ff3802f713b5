/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package kube holds the operator's scheme and builds its controller manager
// with a cache that holds only what the operator reads. The binary and every
// envtest suite build the manager the same way.
package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// Scheme holds the Kubernetes kinds and the shcr.io kinds.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(shcrv1alpha1.AddToScheme(Scheme))
}

// CacheOptions make the cache hold only objects labelled as managed by the
// operator, for every kind it creates, and drop managedFields from
// everything it holds. The operator never lists a cluster's other
// Deployments, ConfigMaps or Namespaces. Deployments and ConfigMaps are
// held trimmed (trimForCache); the metadata-only kinds (MetadataOnlyKinds)
// are watched as metadata by the controllers. Every cached object's
// repeated strings are shared (shareMetadata).
func CacheOptions() cache.Options {
	managed := labels.SelectorFromSet(labels.Set{specs.LabelManagedBy: specs.ManagedBy})
	byObject := map[client.Object]cache.ByObject{}
	for _, obj := range []client.Object{
		&corev1.Namespace{}, &corev1.ServiceAccount{}, &corev1.Service{},
		&corev1.ResourceQuota{}, &corev1.LimitRange{}, &corev1.PersistentVolumeClaim{},
		&appsv1.StatefulSet{}, &networkingv1.NetworkPolicy{},
		&policyv1.PodDisruptionBudget{}, &rbacv1.Role{}, &rbacv1.RoleBinding{},
		&appsv1.Deployment{}, &corev1.ConfigMap{},
	} {
		byObject[obj] = cache.ByObject{Label: managed, Transform: trimForCache}
	}
	return cache.Options{
		ByObject:         byObject,
		DefaultTransform: slimForCache,
	}
}

// slimForCache drops from a cached object what the operator never reads:
// managedFields, and the copy of the whole object that a client-side
// "kubectl apply" keeps in an annotation (it doubles the size of every
// resource applied that way). The operator writes objects only by
// server-side apply and by patches computed from its own changes, so no
// write sends these fields back empty.
//
// It also shares the strings that repeat across objects (shareMetadata,
// shareStatus), but names: the operator's own kinds are named one by one.
func slimForCache(obj any) (any, error) {
	return slim(obj, false), nil
}

// slim is slimForCache, sharing the object's name too when names is set.
func slim(obj any, names bool) any {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
		if a := m.GetAnnotations(); a != nil {
			if _, ok := a[corev1.LastAppliedConfigAnnotation]; ok {
				delete(a, corev1.LastAppliedConfigAnnotation)
				m.SetAnnotations(a)
			}
		}
	}
	if a, ok := obj.(metav1.ObjectMetaAccessor); ok {
		if m, ok := a.GetObjectMeta().(*metav1.ObjectMeta); ok {
			shareMetadata(m, names)
		}
	}
	if p, ok := obj.(*metav1.PartialObjectMetadata); ok {
		p.APIVersion, p.Kind = share(p.APIVersion), share(p.Kind)
	}
	shareStatus(obj)
	return obj
}

// DefaultConcurrency is how many objects of each kind the operator
// reconciles at once, unless the caller sets Controller.MaxConcurrentReconciles.
const DefaultConcurrency = 16

// NewManager builds a manager from options the caller has filled in (metrics,
// probes, leader election, webhooks), with the operator's scheme and cache.
//
// The manager's client does not ask for compressed answers: it talks to
// its own cluster's API server, for which gzip of every watch stream and
// large list costs CPU on both sides (about 1 % of the API server's during
// a 5,000-organisation onboarding) and the manager a decompressor's state
// per watch, to save bandwidth that is not scarce there.
func NewManager(cfg *rest.Config, opts ctrl.Options) (ctrl.Manager, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.DisableCompression = true
	opts.Scheme = Scheme
	opts.Cache = CacheOptions()
	opts.NewCache = newGuardedCache
	if opts.Controller.MaxConcurrentReconciles == 0 {
		opts.Controller.MaxConcurrentReconciles = DefaultConcurrency
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	return mgr, nil
}

// ErrNotRegionNamespace is returned by RegionOf for a namespace that no
// ShCRRegion owns.
var ErrNotRegionNamespace = errors.New("not a region namespace")

// ErrNamespaceNotRecorded is returned by RegionOf for a namespace its
// region owns but has not yet recorded in status.namespace: a moment after
// the region created it, so worth a retry rather than a refusal for good.
var ErrNamespaceNotRecorded = errors.New("not yet recorded in the region's status")

// RegionOf returns the region that owns a namespace, read from the cache. A
// namespace is a region's only if the region owns it: it is named
// shcr-<region>, carries the operator's managed-by label and the region
// label, its controller reference is that ShCRRegion (by UID), and the
// region's status.namespace names it. Labels alone, which anyone who can
// create a namespace can set, do not make a region namespace. Any other
// namespace gives ErrNotRegionNamespace.
//
// Every reconcile of an organisation, agreement and policy, and every
// admission of one, asks this, so neither object is copied out of the
// cache (client.UnsafeDisableDeepCopy; both are only read here): a region's
// status names each of its organisations, and the copies held by the
// reconciles in flight were two fifths of the manager's live heap at 5,000
// organisations (docs/benchmarks.md).
func RegionOf(ctx context.Context, c client.Reader, namespace string) (string, error) {
	notRegion := fmt.Errorf("namespace %s: %w", namespace, ErrNotRegionNamespace)
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: namespace}, ns, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			return "", notRegion
		}
		return "", err
	}
	region := ns.Labels[shcrv1alpha1.LabelRegion]
	if region == "" || ns.Labels[specs.LabelManagedBy] != specs.ManagedBy || ns.Labels[shcrv1alpha1.LabelRetained] == "true" ||
		namespace != shcrv1alpha1.NamespaceFor(region) {
		return "", notRegion
	}
	owner := metav1.GetControllerOf(ns)
	if owner == nil || owner.Kind != "ShCRRegion" || owner.Name != region ||
		!strings.HasPrefix(owner.APIVersion, shcrv1alpha1.GroupVersion.Group+"/") {
		return "", notRegion
	}
	r := &shcrv1alpha1.ShCRRegion{}
	if err := c.Get(ctx, client.ObjectKey{Name: region}, r, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			return "", notRegion
		}
		return "", err
	}
	if r.UID != owner.UID {
		return "", notRegion
	}
	if r.Status.Namespace == "" {
		// The region creates its namespace before it records it: not yet
		// known to be the region's, so retried rather than refused for good.
		return "", fmt.Errorf("namespace %s of region %s: %w", namespace, region, ErrNamespaceNotRecorded)
	}
	if r.Status.Namespace != namespace {
		return "", notRegion
	}
	return region, nil
}
