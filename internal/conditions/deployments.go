/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package conditions

import (
	"context"
	"fmt"
	"sync"
	"unique"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Deployments tells whether the Deployments the operator owns are
// available (DeploymentAvailability), although the manager's cache holds
// them as metadata only: a typed Deployment embeds a whole pod template
// (1.2 kB even empty), one per organisation. It remembers each
// Deployment's availability with the resourceVersion it was read at, and
// reads a Deployment in full from the API server only when the cache shows
// another resourceVersion: once for each change of its spec or status,
// never for a reconcile that finds it as it was. It is safe for
// concurrent use.
type Deployments struct {
	// Cache is the manager's cache, which holds Deployments as metadata.
	Cache client.Reader
	// API reads from the API server.
	API client.Reader

	mu    sync.Mutex
	known map[deploymentName]availabilityAt
}

// deploymentName is a Deployment's namespace and name, shared with the
// cache's copies.
type deploymentName struct {
	namespace, name unique.Handle[string]
}

// availabilityAt is a Deployment's availability at a resourceVersion.
type availabilityAt struct {
	resourceVersion string
	status          metav1.ConditionStatus
	reason, message string
}

// Availability returns DeploymentAvailability of the Deployment key, as
// of the resourceVersion the cache holds or a later one. A Deployment the
// cache does not hold is not yet available ("not yet in the cache"), as
// before it is created.
func (d *Deployments) Availability(ctx context.Context, key client.ObjectKey) (metav1.ConditionStatus, string, string, error) {
	cached := &metav1.PartialObjectMetadata{}
	cached.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	name := deploymentName{namespace: unique.Make(key.Namespace), name: unique.Make(key.Name)}
	if err := d.Cache.Get(ctx, key, cached); err != nil {
		if !apierrors.IsNotFound(err) {
			return "", "", "", fmt.Errorf("reading Deployment %s: %w", key, err)
		}
		// Not yet in the cache (just created, and remembered by Written)
		// or gone (forgotten by ForgetDeleted).
		status, reason, message := DeploymentAvailability(&appsv1.Deployment{})
		return status, reason, message, nil
	}
	d.mu.Lock()
	at, ok := d.known[name]
	d.mu.Unlock()
	if ok && at.resourceVersion == cached.ResourceVersion && at.resourceVersion != "" {
		return at.status, at.reason, at.message, nil
	}
	// From the API server's watch cache (resourceVersion 0), not a quorum
	// read of etcd: the cache's own version came through that watch cache,
	// which so holds it or a later one. An older answer (another API
	// server, behind) is remembered at its own version and read again
	// next time.
	full := &appsv1.Deployment{}
	if err := d.API.Get(ctx, key, full, &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: "0"}}); err != nil {
		if !apierrors.IsNotFound(err) {
			return "", "", "", fmt.Errorf("reading Deployment %s: %w", key, err)
		}
		d.forget(name) // deleted since the cache saw it
		status, reason, message := DeploymentAvailability(&appsv1.Deployment{})
		return status, reason, message, nil
	}
	status, reason, message := DeploymentAvailability(full)
	d.remember(name, full.ResourceVersion, status, reason, message)
	return status, reason, message, nil
}

func (d *Deployments) remember(name deploymentName, resourceVersion string, status metav1.ConditionStatus, reason, message string) {
	// The message repeats across Deployments ("1 of 1 replicas available").
	at := availabilityAt{resourceVersion: resourceVersion, status: status, reason: reason, message: unique.Make(message).Value()}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.known == nil {
		d.known = map[deploymentName]availabilityAt{}
	}
	d.known[name] = at
}

// Written is given the API server's answer to a create or apply of a
// Deployment (apply.Applier.Written; other kinds are ignored). When no one has
// written the Deployment's status (no managedFields entry of the status
// subresource: it was just created), its status is empty, so its
// availability at the version written is known without reading it: the
// Deployment controller has not yet seen its spec. Otherwise the status
// is unknown, and the next Availability reads it.
func (d *Deployments) Written(kind schema.GroupVersionKind, answer *metav1.PartialObjectMetadata) {
	if kind.GroupKind() != appsv1.SchemeGroupVersion.WithKind("Deployment").GroupKind() ||
		answer.ResourceVersion == "" || len(answer.ManagedFields) == 0 {
		return
	}
	for _, f := range answer.ManagedFields {
		if f.Subresource == "status" {
			return
		}
	}
	fresh := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: answer.Name, Generation: answer.Generation}}
	status, reason, message := DeploymentAvailability(fresh)
	d.remember(deploymentName{namespace: unique.Make(answer.Namespace), name: unique.Make(answer.Name)},
		answer.ResourceVersion, status, reason, message)
}

// Read is given a Deployment the Applier read in full from the API server
// (apply.Applier.Read; other kinds are ignored). Its availability at the
// version read is remembered, so that Availability, asked next about the
// version the cache shows (the same, once the cache has caught up), does
// not read the same Deployment again: a Deployment whose status its
// controller wrote is read once, not once by the Applier and once here.
func (d *Deployments) Read(kind schema.GroupVersionKind, obj *unstructured.Unstructured) {
	if kind.GroupKind() != appsv1.SchemeGroupVersion.WithKind("Deployment").GroupKind() || obj.GetResourceVersion() == "" {
		return
	}
	full := &appsv1.Deployment{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, full); err != nil {
		return // Availability reads it
	}
	status, reason, message := DeploymentAvailability(full)
	d.remember(deploymentName{namespace: unique.Make(full.Namespace), name: unique.Make(full.Name)},
		full.ResourceVersion, status, reason, message)
}

// ForgetDeleted makes d forget each Deployment the informer of
// Deployments' metadata (from the manager's cache) sees deleted, so that
// what is remembered follows the cache: an organisation deleted at once
// (its connector garbage-collected) is never asked about again.
func (d *Deployments) ForgetDeleted(ctx context.Context, c cache.Cache) error {
	deployments := &metav1.PartialObjectMetadata{}
	deployments.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	informer, err := c.GetInformer(ctx, deployments)
	if err != nil {
		return fmt.Errorf("watching Deployments' deletions: %w", err)
	}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{DeleteFunc: func(obj any) {
		if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		if m, ok := obj.(metav1.Object); ok {
			d.Forget(client.ObjectKey{Namespace: m.GetNamespace(), Name: m.GetName()})
		}
	}})
	return err
}

// Forget drops what is remembered of the Deployment key: it was deleted.
func (d *Deployments) Forget(key client.ObjectKey) {
	d.forget(deploymentName{namespace: unique.Make(key.Namespace), name: unique.Make(key.Name)})
}

func (d *Deployments) forget(name deploymentName) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.known, name)
}

// Remembered is how many Deployments' availability is remembered.
func (d *Deployments) Remembered() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.known)
}
