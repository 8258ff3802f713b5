/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/assurance"
	"github.com/shcr-io/shcr-operator/internal/conditions"
	"github.com/shcr-io/shcr-operator/internal/metrics"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// assuranceSlack is added to a requeue at an assurance's start or lapse, so
// the reconcile that reports it runs after the second has turned. The
// gateway needs no reconcile: the bundle's window already holds the second.
const assuranceSlack = 50 * time.Millisecond

// evaluateAssurance applies the IG Framework's gate to the region at now:
// the checkpoints the cluster shows, and the panel's records counted
// against them and against the panel, judged records keeping their
// judgement (status.assurance).
func (r *Reconciler) evaluateAssurance(ctx context.Context, region *shcrv1alpha1.ShCRRegion, now time.Time) (assurance.Outcome, error) {
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	members, err := r.membersIn(ctx, ns)
	if err != nil {
		return assurance.Outcome{}, err
	}
	agreements, err := r.agreementsIn(ctx, ns)
	if err != nil {
		return assurance.Outcome{}, err
	}
	checkpoints := assurance.Checkpoints(members, agreements, now)
	out := assurance.Evaluate(region.Spec, region.Status.Assurance, checkpoints, now)
	if len(out.FreshRefusals) == 0 || r.APIReader == nil {
		return out, nil
	}
	// A record refused for the first time is refused for good, judged by
	// status.assurance: a cached region a write behind may not yet show
	// that the record was judged (and counted) before the checkpoint
	// turned unmet. Judge by the region the API server holds. The status
	// write of a reconcile that read the stale copy then fails on its
	// resourceVersion and the next reconcile reads again.
	live := &shcrv1alpha1.ShCRRegion{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(region), live); err != nil {
		return assurance.Outcome{}, fmt.Errorf("reading region %s to confirm a refused assurance: %w", region.Name, err)
	}
	if live.ResourceVersion == region.ResourceVersion {
		return out, nil
	}
	return assurance.Evaluate(live.Spec, live.Status.Assurance, checkpoints, now), nil
}

// recordAssurance sets status.assurance and the Assured condition, exports
// the review dates for the alerts, records an Event when the region starts
// or stops being assured, and gives when to look again.
func (r *Reconciler) recordAssurance(region *shcrv1alpha1.ShCRRegion, out assurance.Outcome, now time.Time) time.Duration {
	was := findCondition(region, shcrv1alpha1.ConditionAssured)
	status := out.Status
	region.Status.Assurance = &status
	setCondition(region, shcrv1alpha1.ConditionAssured, conditions.Bool(out.Status.Assured), out.Reason, out.Message)
	if was == nil || (was.Status == metav1.ConditionTrue) != out.Status.Assured || was.Reason != out.Reason {
		kind := corev1.EventTypeNormal
		if !out.Status.Assured {
			kind = corev1.EventTypeWarning
		}
		r.event(region, kind, out.Reason, "%s", out.Message)
	}
	metrics.AssuranceReview.DeletePartialMatch(prometheus.Labels{"region": region.Name})
	for _, s := range out.Status.Requirements {
		if s.Counted && s.ReviewDate != nil {
			metrics.AssuranceReview.WithLabelValues(region.Name, string(s.Requirement)).Set(float64(s.ReviewDate.Unix()))
		}
	}
	assured := 0.0
	if out.Status.Assured {
		assured = 1
	}
	metrics.RegionAssured.WithLabelValues(region.Name).Set(assured)
	if out.Next.IsZero() || !out.Next.After(now) {
		return 0
	}
	return out.Next.Sub(now) + assuranceSlack
}

// peerAssurance gives the IG Framework gate of every peer region named by
// the region's cross-region agreements, evaluated at now exactly as the
// peer's own reconcile does, and the soonest time one of them next changes
// by the clock alone (zero when never). A peer that does not exist, or is
// being deleted, is left out: its assurance is unknown, so the agreements
// with it grant nothing.
func (r *Reconciler) peerAssurance(ctx context.Context, in policy.Input, now time.Time) (map[string]policy.Assurance, time.Time, error) {
	gates := map[string]policy.Assurance{}
	var next time.Time
	for _, a := range in.Agreements {
		if !a.CrossRegion || a.PeerRegion == "" || a.PeerRegion == in.Region {
			continue
		}
		if _, done := gates[a.PeerRegion]; done {
			continue
		}
		peer := &shcrv1alpha1.ShCRRegion{}
		err := r.Client.Get(ctx, client.ObjectKey{Name: a.PeerRegion}, peer)
		if client.IgnoreNotFound(err) != nil {
			return nil, time.Time{}, err
		}
		if err != nil || !peer.DeletionTimestamp.IsZero() {
			gates[a.PeerRegion] = policy.Assurance{Reason: policy.NotAssuredPrefix + ": peer region " + a.PeerRegion + " does not exist"}
			continue
		}
		out, err := r.evaluateAssurance(ctx, peer, now)
		if err != nil {
			return nil, time.Time{}, err
		}
		gates[a.PeerRegion] = out.Gate
		if out.Next.After(now) && (next.IsZero() || out.Next.Before(next)) {
			next = out.Next
		}
	}
	return gates, next, nil
}
