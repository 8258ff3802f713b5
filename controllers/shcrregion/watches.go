/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"context"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	ctrl "sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/index"
	"github.com/shcr-io/shcr-operator/internal/kube"
)

// DefaultCoalesce is how long the region waits after a change to one of its
// organisations, agreements or policies before recompiling, so that the
// changes of a burst (a region being onboarded, a GitOps sync) are compiled
// together.
const DefaultCoalesce = 500 * time.Millisecond

// MaxCoalesce bounds the coalescing window of a region whose reconciles are
// slow, so that a change is compiled within seconds whatever the region's size.
const MaxCoalesce = 5 * time.Second

// coalesceCostFactor is how many times its last reconcile's duration a
// region waits to coalesce changes: it spends at most about a sixth of the
// time of a burst recompiling, however large it grows.
const coalesceCostFactor = 5

// windows holds each region's coalescing window: the reconciler's Coalesce,
// or coalesceCostFactor times the region's last reconcile (compile and
// writes) when that is longer, at most MaxCoalesce. Safe for concurrent use.
type windows struct {
	min  time.Duration
	mu   sync.Mutex
	last map[string]time.Duration
}

// of returns the window of region.
func (w *windows) of(region string) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return max(w.min, w.last[region])
}

// observe records that a reconcile of region took took.
func (w *windows) observe(region string, took time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == nil {
		w.last = map[string]time.Duration{}
	}
	w.last[region] = min(MaxCoalesce, coalesceCostFactor*took)
}

// forget drops a region that is gone.
func (w *windows) forget(region string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.last, region)
}

// regionChanges enqueues the region of a changed object after its window. A
// change that arrives while the region already waits joins that wait; one
// that arrives during a reconcile waits for the next.
func regionChanges(w *windows) handler.EventHandler {
	return coalesced(handler.EnqueueRequestsFromMapFunc(regionOfNamespace), w)
}

// coalesced makes inner enqueue its requests after the region's window
// instead of at once.
func coalesced(inner handler.EventHandler, d *windows) handler.EventHandler {
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
			inner.Create(ctx, e, delayedAdds{q, d})
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
			inner.Update(ctx, e, delayedAdds{q, d})
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
			inner.Delete(ctx, e, delayedAdds{q, d})
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
			inner.Generic(ctx, e, delayedAdds{q, d})
		},
	}
}

// delayedAdds is a work queue whose Add waits the region's window.
type delayedAdds struct {
	workqueue.TypedRateLimitingInterface[ctrl.Request]
	d *windows
}

func (q delayedAdds) Add(req ctrl.Request) { q.AddAfter(req, q.d.of(req.Name)) }

// regionOfNamespace maps an object in a region namespace (shcr-<region>) to
// its region.
func regionOfNamespace(_ context.Context, obj client.Object) []ctrl.Request {
	name, ok := strings.CutPrefix(obj.GetNamespace(), "shcr-")
	if !ok || name == "" {
		return nil
	}
	return []ctrl.Request{{NamespacedName: types.NamespacedName{Name: name}}}
}

// deletionPredicate passes the update that marks a region for deletion.
func deletionPredicate() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
		},
	}
}

// regionsPeeringWith maps a region to the regions that list it in spec.peers
// (by index).
func (r *Reconciler) regionsPeeringWith(ctx context.Context, obj client.Object) []ctrl.Request {
	regions := &shcrv1alpha1.ShCRRegionList{}
	if err := r.Client.List(ctx, regions, client.MatchingFields{index.RegionPeer: obj.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "Listing the regions peering with a region; their PeersFound waits for their next event", "peer", obj.GetName())
		return nil
	}
	return kube.Requests(regions)
}

// peerPresenceChanged passes a region's creation and deletion, and the update
// that marks it for deletion: what changes whether it exists as a peer.
func peerPresenceChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return true },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		UpdateFunc:  deletionPredicate().Update,
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// peerAssuranceChanged passes the update of a region whose assurance
// records or judged assurance changed: its peers' cross-region grants are
// cut to its gate, so they recompile.
func peerAssuranceChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		DeleteFunc: func(event.DeleteEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			old, okOld := e.ObjectOld.(*shcrv1alpha1.ShCRRegion)
			updated, okNew := e.ObjectNew.(*shcrv1alpha1.ShCRRegion)
			if !okOld || !okNew {
				return false
			}
			return !equality.Semantic.DeepEqual(old.Spec.Assurance, updated.Spec.Assurance) ||
				!equality.Semantic.DeepEqual(old.Status.Assurance, updated.Status.Assurance)
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
