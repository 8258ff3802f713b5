/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package kube

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// Shape is how much of an object of one kind the manager's cache holds.
type Shape int

const (
	// Full: the cache holds the whole object (without managedFields).
	Full Shape = iota
	// Trimmed: the cache holds the object with the fields the operator
	// only writes removed (see trimForCache); what is left can be read.
	Trimmed
	// MetadataOnly: the cache holds the object's metadata only, as a
	// metav1.PartialObjectMetadata; a read of the typed object from the
	// cache fails (it would start a second, full informer).
	MetadataOnly
)

// The kinds a region has one of per organisation, which the operator only
// applies and owns: their cache must not hold what the operator never
// reads back. ConfigMaps keep the agreement ledger's data (reads of it are
// optimistic-concurrency writes) and the provider records'. A connector
// Deployment is held as metadata: its availability is read in full only
// when its resourceVersion changed (conditions.Deployments), since a typed
// Deployment embeds a whole pod template. Volume claims (a connector's
// state, and the region's retained data) are only applied, and listed to
// mark or unmark them retained, which is metadata.
var (
	metadataOnlyKinds = []client.Object{
		&corev1.ServiceAccount{}, &corev1.Service{}, &networkingv1.NetworkPolicy{}, &corev1.PersistentVolumeClaim{},
		&rbacv1.Role{}, &rbacv1.RoleBinding{}, &appsv1.Deployment{},
	}
	trimmedKinds = []client.Object{&corev1.ConfigMap{}}
)

// MetadataOnlyKinds returns a new copy of each kind the cache holds as
// metadata only: controllers must watch them with builder.OnlyMetadata.
func MetadataOnlyKinds() []client.Object {
	out := make([]client.Object, 0, len(metadataOnlyKinds))
	for _, o := range metadataOnlyKinds {
		out = append(out, o.DeepCopyObject().(client.Object))
	}
	return out
}

// ShapeOf returns how the manager's cache holds objects of kind gvk.
func ShapeOf(gvk schema.GroupVersionKind) Shape {
	for _, o := range metadataOnlyKinds {
		if kindOf(o) == gvk {
			return MetadataOnly
		}
	}
	for _, o := range trimmedKinds {
		if kindOf(o) == gvk {
			return Trimmed
		}
	}
	return Full
}

func kindOf(o client.Object) schema.GroupVersionKind {
	gvk, err := apiutil.GVKForObject(o, Scheme)
	if err != nil {
		panic(err) // only the kinds above, all in Scheme
	}
	return gvk
}

// trimForCache is the transform of the kinds the operator creates. It
// removes from a ConfigMap other than the agreement ledger and the
// provider records (specs.ProviderRecordConfigMap; small, and read by the
// region) its data: the operator writes it by server-side apply and
// decides re-applies without reading it back. What is left reads
// correctly for what the operator reads: metadata. ConfigMaps and the
// metadata-only kinds are held without their applied-hash annotation.
// Then it slims the object (slimForCache), sharing its name too: an
// organisation's connector objects all have one.
func trimForCache(obj any) (any, error) {
	switch obj.(type) {
	case *corev1.ConfigMap, *metav1.PartialObjectMetadata:
		// The Applier remembers what these held when it wrote or checked
		// them (internal/apply), and reads them in full when it does not
		// know: it never reads their applied hash from the cache.
		m := obj.(metav1.Object)
		if a := m.GetAnnotations(); a != nil {
			if _, ok := a[shcrv1alpha1.AnnotationAppliedHash]; ok {
				delete(a, shcrv1alpha1.AnnotationAppliedHash)
				if len(a) == 0 {
					a = nil
				}
				m.SetAnnotations(a)
			}
		}
	}
	if o, ok := obj.(*corev1.ConfigMap); ok && o.Name != governance.LedgerName && !specs.IsProviderRecord(o) {
		o.Data, o.BinaryData = nil, nil
	}
	return slim(obj, true), nil
}

// newGuardedCache builds the manager's cache, and makes a read or watch of a
// metadata-only kind as a typed object fail with an error naming the kind,
// instead of silently starting a second, full informer of every such object.
func newGuardedCache(cfg *rest.Config, opts cache.Options) (cache.Cache, error) {
	c, err := cache.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	return guardedCache{Cache: c}, nil
}

// guardedCache refuses typed access to metadata-only kinds.
type guardedCache struct {
	cache.Cache
}

// ErrMetadataOnly is returned for a typed read of a kind the cache holds as
// metadata only.
type ErrMetadataOnly struct{ Kind string }

func (e *ErrMetadataOnly) Error() string {
	return fmt.Sprintf("%s is cached as metadata only: read it from the cache as a metav1.PartialObjectMetadata, or in full through the APIReader", e.Kind)
}

func (g guardedCache) check(obj runtime.Object) error {
	switch obj.(type) {
	case *metav1.PartialObjectMetadata, *metav1.PartialObjectMetadataList:
		return nil
	}
	gvk, err := apiutil.GVKForObject(obj, Scheme)
	if err != nil {
		return nil // not a kind of the scheme: the cache reports it
	}
	gvk.Kind = strings.TrimSuffix(gvk.Kind, "List")
	if ShapeOf(gvk) == MetadataOnly {
		return &ErrMetadataOnly{Kind: gvk.Kind}
	}
	return nil
}

// Get reads from the cache, refusing typed metadata-only kinds.
func (g guardedCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := g.check(obj); err != nil {
		return err
	}
	return g.Cache.Get(ctx, key, obj, opts...)
}

// List lists from the cache, refusing typed metadata-only kinds.
func (g guardedCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := g.check(list); err != nil {
		return err
	}
	return g.Cache.List(ctx, list, opts...)
}

// GetInformer returns the informer of obj's kind, refusing typed
// metadata-only kinds (a watch that forgot builder.OnlyMetadata).
func (g guardedCache) GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error) {
	if err := g.check(obj); err != nil {
		return nil, err
	}
	return g.Cache.GetInformer(ctx, obj, opts...)
}

// MetadataList returns an empty metav1.PartialObjectMetadataList of the
// kind of list, to list a metadata-only kind from the cache into.
func MetadataList(list client.ObjectList) *metav1.PartialObjectMetadataList {
	gvk, err := apiutil.GVKForObject(list, Scheme)
	if err != nil {
		panic(err) // a list kind of Scheme, named in the code
	}
	m := &metav1.PartialObjectMetadataList{}
	m.SetGroupVersionKind(gvk)
	return m
}

// ForCache returns obj, or, for a kind the cache holds as metadata only, an
// empty metav1.PartialObjectMetadata of obj's kind to read it into.
func ForCache(obj client.Object) client.Object {
	gvk := kindOf(obj)
	if ShapeOf(gvk) != MetadataOnly {
		return obj
	}
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(gvk)
	return m
}
